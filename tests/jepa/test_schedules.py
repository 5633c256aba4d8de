import math

import pytest
import torch

from jepa.ema import ema_update
from jepa.schedules import cosine, linear, warmup_cosine


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
