import pytest
import torch

from encoders import SIZES, VisionTransformer, create_encoder
from tests.conftest import assert_official_close, load_official, strip_prefix

# Parameter counts of the official encoders (patch 16 at 224², images), as in the papers' tables.
OFFICIAL_PARAMS_M = {"tiny": 5.5, "small": 21.7, "base": 85.8, "large": 303.3, "huge": 631.2, "giant": 1011.9}


def small_image_vit(**kw):
    return VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, **kw).eval()


def small_video_vit(**kw):
    return VisionTransformer(img_size=32, patch_size=8, num_frames=4, tubelet_size=2, embed_dim=48, depth=2,
                             num_heads=4, **kw).eval()  # fmt: skip


@pytest.mark.parametrize("size", sorted(OFFICIAL_PARAMS_M))
def test_official_sizes(size):
    with torch.device("meta"):
        model = create_encoder(size, img_size=224, patch_size=16)
    n = sum(p.numel() for p in model.parameters()) / 1e6
    assert n == pytest.approx(OFFICIAL_PARAMS_M[size], rel=0.01)
    assert model.embed_dim == SIZES[size]["embed_dim"] and len(model.blocks) == SIZES[size]["depth"]


@pytest.mark.parametrize("make, shape, tokens", [
    (small_image_vit, (3, 3, 32, 32), 16),
    (small_video_vit, (3, 3, 4, 32, 32), 32),
    (lambda: small_video_vit(use_rope=True), (3, 3, 4, 32, 32), 32),
])  # fmt: skip
def test_encoder_shapes_and_mask_forms(make, shape, tokens):
    model = make()
    x = torch.randn(shape)
    with torch.no_grad():
        full = model(x)
        assert full.shape == (3, tokens, model.embed_dim)
        idx = torch.stack([torch.randperm(tokens)[:5] for _ in range(3)])
        kept = model(x, idx)
        assert kept.shape == (3, 5, model.embed_dim)
        multi = model(x, [idx, idx.flip(1)])
        assert multi.shape == (6, 5, model.embed_dim)
        per_sample = model(x, [idx[0], idx[1, :2], idx[2, :4]])
    assert [t.shape[0] for t in per_sample] == [5, 2, 4]
    # a sample's output depends only on its own kept tokens: packed == one sample at a time
    for b, m in enumerate([idx[0], idx[1, :2], idx[2, :4]]):
        with torch.no_grad():
            alone = model(x[b : b + 1], m[None])[0]
        torch.testing.assert_close(per_sample[b], alone, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(kept, multi[:3])


def test_masked_encoder_sees_only_kept_tokens():
    model = small_image_vit()
    x = torch.randn(1, 3, 32, 32)
    keep = torch.tensor([[0, 1, 4, 5]])  # the top-left 16x16 pixels
    x2 = x.clone()
    x2[..., 16:, 16:] = 5.0  # change only pixels of dropped patches
    with torch.no_grad():
        torch.testing.assert_close(model(x, keep), model(x2, keep))


def test_wrong_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match=r"H, W = \(32, 32\), got input of shape \(1, 3, 48, 48\)"):
        small_image_vit()(torch.randn(1, 3, 48, 48))
    with pytest.raises(ValueError, match="not a multiple of patch_size"):
        VisionTransformer(img_size=30, patch_size=8)
    with pytest.raises(ValueError, match="unknown encoder size 'mega'"):
        create_encoder("mega")


def test_a_rope_encoder_takes_smaller_inputs_as_the_same_patches_of_a_larger_one():
    """RoPE attends by relative position, so a 16x16 input encodes as the top-left 2x2 patches of a 32x32 input
    masked to them; encoders with a position table keep refusing other sizes."""
    model = small_image_vit(use_rope=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        small = model(x[..., :16, :16])
        masked = model(x, torch.tensor([[0, 1, 4, 5]] * 2))
    assert small.shape == (2, 4, 32)
    torch.testing.assert_close(small, masked, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 24, 40)).shape == (1, 15, 32)
    with pytest.raises(ValueError, match=r"H, W multiples of 8, got input of shape \(1, 3, 20, 16\)"):
        model(torch.randn(1, 3, 20, 16))
    with pytest.raises(ValueError, match=r"H, W = \(32, 32\), got input of shape \(1, 3, 16, 16\)"):
        small_image_vit()(torch.randn(1, 3, 16, 16))


def products_in_backward(model, x) -> int:
    """Gradients of ``model`` on ``x`` (into ``.grad``) and the number of matrix products their backward ran."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class CountProducts(TorchDispatchMode):
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in (torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default):
                CountProducts.count += 1
            return func(*args, **(kwargs or {}))

    loss = model(x, [torch.arange(10), torch.arange(3, 16)])[1].sum()
    with CountProducts():
        loss.backward()
    return CountProducts.count


def test_activation_checkpointing_gives_same_gradients_and_selective_redoes_no_products():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    plain = small_image_vit().train()
    counts = {False: products_in_backward(plain, x)}
    for setting in (True, "selective"):
        model = small_image_vit(grad_checkpointing=setting).train()
        model.load_state_dict(plain.state_dict())
        counts[setting] = products_in_backward(model, x)
        for (name, pa), pb in zip(plain.named_parameters(), model.parameters()):
            torch.testing.assert_close(pa.grad, pb.grad, msg=f"{setting}: {name}")
    assert counts[True] > counts[False], "full checkpointing recomputes the forward's products"
    assert counts["selective"] == counts[False], "selective keeps them"
    with pytest.raises(ValueError, match="grad_checkpointing='some': choose false, true or selective"):
        small_image_vit(grad_checkpointing="some")


@pytest.mark.parametrize("case", ["ijepa", "vjepa", "vjepa2"])
def test_encoder_reproduces_official_outputs(case):
    manifest, io, ckpt = load_official(case)
    kw = manifest["encoder_kwargs"]
    model = VisionTransformer(
        img_size=kw["img_size"][0] if isinstance(kw["img_size"], list) else kw["img_size"],
        patch_size=kw["patch_size"],
        num_frames=kw.get("num_frames", 1),
        tubelet_size=kw.get("tubelet_size", 2),
        embed_dim=kw["embed_dim"],
        depth=kw["depth"],
        num_heads=kw["num_heads"],
        uniform_power=kw.get("uniform_power", False),
        use_rope=kw.get("use_rope", False),
        rope_tiled_freqs=True,
    ).eval()
    prefix = manifest["checkpoint"]["model_key_prefix"]
    for entry, ref in (("encoder", "enc_out_full"), ("target_encoder", "target_enc_out_full")):
        model.load_state_dict(strip_prefix(ckpt[entry], prefix), strict=True)
        with torch.no_grad():
            assert_official_close(model(io["x"]), io[ref])
    model.load_state_dict(strip_prefix(ckpt["encoder"], prefix), strict=True)
    with torch.no_grad():
        assert_official_close(model(io["x"], [io["ctx_index"]]), io["enc_out_ctx"])


def test_regional_compile_gives_eager_outputs_and_gradients_for_changing_lengths():
    from encoders.vit import Block, set_regional_compile
    from jepa.config import EncoderConfig
    from jepa.objectives.base import build_encoder

    torch.manual_seed(0)
    eager = small_image_vit().train()
    compiled = small_image_vit().train()
    compiled.load_state_dict(eager.state_dict())
    set_regional_compile(compiled)
    assert all(b.compiled for b in compiled.modules() if isinstance(b, Block))
    x = torch.randn(2, 3, 32, 32)
    for masks in ([torch.arange(10), torch.arange(3, 16)], [torch.arange(5), torch.arange(2, 9)]):
        for model in (eager, compiled):
            model.zero_grad()
            sum(out.square().sum() for out in model(x, masks)).backward()
        for a, b in zip(eager(x, masks), compiled(x, masks)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
        for (name, pa), pb in zip(eager.named_parameters(), compiled.parameters()):
            torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=1e-5, msg=name)
    built = build_encoder(EncoderConfig(size="tiny", img_size=32, patch_size=8, compile_blocks=True))
    assert all(b.compiled for b in built.modules() if isinstance(b, Block))
    assert not any(b.compiled for b in build_encoder(EncoderConfig(size="tiny", img_size=32, patch_size=8)).blocks)
