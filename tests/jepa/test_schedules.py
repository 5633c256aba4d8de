import math

import pytest
import torch

from jepa.ema import ema_update
from jepa.schedules import cosine, linear, warmup_cosine, warmup_then


def test_warmup_cosine_values():
    kw = dict(total_steps=100, warmup_steps=10, start=2e-4, ref=1e-3, final=1e-6)
    assert warmup_cosine(0, **kw) == pytest.approx(2e-4)
    assert warmup_cosine(5, **kw) == pytest.approx(6e-4)
    assert warmup_cosine(10, **kw) == pytest.approx(1e-3)
    assert warmup_cosine(55, **kw) == pytest.approx(1e-6 + (1e-3 - 1e-6) * 0.5)
    assert warmup_cosine(100, **kw) == pytest.approx(1e-6)
    assert warmup_cosine(150, **kw) == pytest.approx(1e-6)


def test_cosine_weight_decay_and_linear_momentum():
    assert cosine(0, 100, 0.04, 0.4) == pytest.approx(0.04)
    assert cosine(50, 100, 0.04, 0.4) == pytest.approx(0.22)
    assert cosine(25, 100, 0.04, 0.4) == pytest.approx(0.4 + (0.04 - 0.4) * 0.5 * (1 + math.cos(math.pi / 4)))
    assert cosine(100, 100, 0.04, 0.4) == pytest.approx(0.4)
    assert linear(0, 1000, 0.996, 1.0) == pytest.approx(0.996)
    assert linear(250, 1000, 0.996, 1.0) == pytest.approx(0.997)
    assert linear(2000, 1000, 0.996, 1.0) == pytest.approx(1.0)


def test_ema_update_maths():
    target, online = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in target.parameters()]
    ema_update(target, online, 0.9)
    for t, b, o in zip(target.parameters(), before, online.parameters()):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * o)
    ema_update(target, online, 1.0)
    for t, b, o in zip(target.parameters(), before, online.parameters()):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * o)
    ema_update(target, online, 0.0)
    for t, o in zip(target.parameters(), online.parameters()):
        torch.testing.assert_close(t, o)


def test_warmup_then_constant_linear_cosine():
    # V-JEPA 2: 1e-4 -> 5.25e-4 over 10 steps, then constant
    assert warmup_then(5, 100, 10, 1e-4, 5.25e-4, 1e-6, "constant") == pytest.approx(1e-4 + 0.5 * 4.25e-4)
    assert warmup_then(10, 100, 10, 1e-4, 5.25e-4, 1e-6, "constant") == 5.25e-4
    assert warmup_then(99, 100, 10, 1e-4, 5.25e-4, 1e-6, "constant") == 5.25e-4
    # cooldown: no warmup, linear 5.25e-4 -> 1e-6
    assert warmup_then(0, 100, 0, 0.0, 5.25e-4, 1e-6, "linear") == 5.25e-4
    assert warmup_then(50, 100, 0, 0.0, 5.25e-4, 1e-6, "linear") == pytest.approx((5.25e-4 + 1e-6) / 2)
    assert warmup_then(100, 100, 0, 0.0, 5.25e-4, 1e-6, "linear") == pytest.approx(1e-6)
    # linear after a warmup counts from the warmup's end
    assert warmup_then(60, 110, 10, 0.0, 1.0, 0.0, "linear") == pytest.approx(0.5)
    assert warmup_then(60, 110, 10, 0.0, 1.0, 0.0, "cosine") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown LR decay 'step'"):
        warmup_then(0, 10, 0, 0.0, 1.0, 0.0, "step")


def test_warmup_stable_decay_anneals_over_the_last_steps():
    lr = [warmup_then(s, 100, 10, 0.1, 1.0, 0.0, "constant", anneal_steps=20) for s in range(101)]
    assert lr[0] == pytest.approx(0.1) and lr[10] == lr[50] == lr[80] == 1.0
    assert lr[90] == pytest.approx(0.5) and lr[100] == 0.0
    assert all(a >= b for a, b in zip(lr[80:], lr[81:]))
