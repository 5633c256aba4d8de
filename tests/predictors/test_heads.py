import pytest
import torch

from encoders.pretrained import PretrainedError
from predictors.heads import AttentiveClassifier, AttentivePooler
from predictors.pretrained import load_probe
from tests.conftest import OFFICIAL, assert_official_close

PROBE = OFFICIAL / "attentive_probe" / "classifier.pt"


def official_io() -> dict:
    return torch.load(OFFICIAL / "attentive_probe" / "io.pt", map_location="cpu", weights_only=True)


def test_attentive_probe_reproduces_official_outputs():
    io = official_io()
    probe = load_probe(PROBE, num_heads=4)
    assert isinstance(probe, AttentiveClassifier) and len(probe.pooler.blocks) == 3
    with torch.no_grad():
        assert_official_close(probe.pooler(io["tokens"]).squeeze(1), io["pooled"])
        assert_official_close(probe(io["tokens"]), io["logits"])


def test_official_evaluation_checkpoint_layout_loads(tmp_path):
    state = torch.load(PROBE, map_location="cpu", weights_only=True)
    wrapped = {"classifiers": [{f"module.{k}": v for k, v in state.items()}], "epoch": 3}
    torch.save(wrapped, tmp_path / "probe.pt")
    with torch.no_grad():
        torch.testing.assert_close(load_probe(tmp_path / "probe.pt", num_heads=4)(official_io()["tokens"]),
                                   official_io()["logits"], rtol=0, atol=1e-5)  # fmt: skip
    with pytest.raises(PretrainedError, match="pass num_heads"):
        load_probe(PROBE)
    with pytest.raises(PretrainedError, match="override num_classes=7 contradicts"):
        load_probe(PROBE, num_heads=4, num_classes=7)


def test_pooler_is_permutation_invariant_and_queries_see_every_token():
    pooler = AttentivePooler(16, 2, depth=2).eval()
    tokens = torch.randn(2, 9, 16)
    with torch.no_grad():
        out = pooler(tokens)
        torch.testing.assert_close(pooler(tokens[:, torch.randperm(9)]), out, atol=1e-5, rtol=1e-5)
        changed = tokens.clone()
        changed[:, 4] += torch.randn(16)  # not a constant: LayerNorm would remove that
        assert not torch.allclose(pooler(changed), out)
    assert out.shape == (2, 1, 16)
