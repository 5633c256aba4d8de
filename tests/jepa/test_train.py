"""``jepa.train``: what the trainer shows while a run goes."""

from types import SimpleNamespace

from jepa.train import StepsProgressBar


def test_progress_bar_reads_a_run_of_max_steps_without_negative_epochs():
    bar = StepsProgressBar()
    bar._trainer = SimpleNamespace(max_epochs=-1, max_steps=800)  # what a run of trainer.max_steps gives Lightning
    assert bar._get_train_description(7) == "Epoch 7 (to step 800)"
    bar._trainer = SimpleNamespace(max_epochs=None, max_steps=-1)
    assert bar._get_train_description(0) == "Epoch 0"
    bar._trainer = SimpleNamespace(max_epochs=10, max_steps=-1)
    assert bar._get_train_description(7).strip() == "Epoch 7/9"  # Lightning's own, where epochs bound the run
