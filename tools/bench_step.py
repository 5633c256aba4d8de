"""Benchmark one pretraining step (forward, backward, AdamW, EMA) of an official or CPU-sized configuration; prints
one JSON line per implementation.

    python tools/bench_step.py --preset vjepa2_vitl16                 # V-JEPA 2 ViT-L/16, 16×256², batch 24
    python tools/bench_step.py --preset ijepa_vith14 --batch 64       # I-JEPA ViT-H/14, 224²
    python tools/bench_step.py --preset cpu_tiny --impl both          # ours vs a plain-PyTorch step, same shapes
    python tools/bench_step.py --preset vjepa2_vitl16 model.encoder.grad_checkpointing=false   # any Hydra override

Masks are drawn ahead (by the same collate as training), so the figure is the step alone. Reported: median step
milliseconds, samples/s, the FLOPs of one step (``torch.utils.flop_counter``) and the TFLOP/s achieved, peak memory
(CUDA allocator; on CPU the process's peak RSS), the attention backend and the tokens the step processed.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from encoders.attention import resolve_backend
from jepa.bench import add_device_options, device_and_dtype, device_name, run_script
from jepa.compose import compose_run
from jepa.config import OBJECTIVE_SCHEMAS, shallow_dict, validated
from jepa.ema import ema_update
from jepa.masks import MaskCollator, MultiBlockMask2D
from jepa.objectives import IJEPA, VJEPA
from jepa.objectives.base import JEPAObjective, apply_schedules

PRESETS: dict[str, list[str]] = {
    "vjepa2_vitl16": ["experiment=vjepa2/vitl16", "data.datasets=[bench]"],
    "ijepa_vith14": ["experiment=ijepa/vith14_in1k", "+data.root=bench"],
    # the quickstart sizes, with sin-cos positions so that the plain-PyTorch step computes the same thing
    "cpu_tiny": ["experiment=vjepa2/quickstart", "model.encoder.use_rope=false"],
    "cpu_tiny_image": ["experiment=ijepa/quickstart", "model.encoder.use_rope=false"],
}


def preset_configs(overrides: list[str]) -> tuple[Any, Any, Any, Any]:
    """The composed run and its validated model, data and mask configs (no data is read: paths are placeholders)."""
    run, _ = compose_run(overrides)
    model_schema, data_schema, mask_schema = OBJECTIVE_SCHEMAS[run.objective]
    model_cfg = validated(model_schema, run.model, "model")
    return run, model_cfg, validated(data_schema, run.data, "data"), validated(mask_schema, run.mask, "mask")


def build_objective(overrides: list[str]) -> tuple[JEPAObjective, MaskCollator, tuple[int, ...], int]:
    """The objective module of a composed run (no probe), its mask collate, one sample's input shape, the batch."""
    run, model_cfg, data_cfg, mask_cfg = preset_configs(overrides)
    model_cfg.probe.num_classes = 0
    if run.objective == "vjepa":
        from jepa.data.video import mask_generators

        frames = data_cfg.dataset_fpcs[0]
        model_cfg.num_mask_sets, model_cfg.clip_lengths = len(mask_cfg.sets), [frames]
        module: JEPAObjective = VJEPA(**shallow_dict(model_cfg))
        collate = MaskCollator(mask_generators(mask_cfg, [frames]), run.seed)
        shape: tuple[int, ...] = (3, frames, data_cfg.crop_size, data_cfg.crop_size)
    elif run.objective == "ijepa":
        module = IJEPA(**shallow_dict(model_cfg))
        collate = MaskCollator({1: [MultiBlockMask2D(**shallow_dict(mask_cfg))]}, run.seed)
        shape = (3, data_cfg.img_size, data_cfg.img_size)
    else:
        raise SystemExit(f"objective {run.objective!r}: bench_step measures ijepa and vjepa pretraining")
    return module, collate, shape, data_cfg.batch_size


def stock_stack(blocks: nn.ModuleList) -> nn.TransformerEncoder:
    """``nn.TransformerEncoder`` layers (pre-norm, GELU) holding a copy of our blocks' weights."""
    attn = blocks[0].attn
    width, hidden = attn.qkv.in_features, blocks[0].mlp.fc1.out_features
    layer = nn.TransformerEncoderLayer(width, attn.num_heads, hidden, 0.0, "gelu", blocks[0].norm1.eps, True, True)
    stack = nn.TransformerEncoder(layer, len(blocks), enable_nested_tensor=False)
    for ours, stock in zip(blocks, stack.layers):
        pairs = [(ours.attn.qkv, "self_attn.in_proj_"), (ours.attn.proj, "self_attn.out_proj."),
                 (ours.mlp.fc1, "linear1."), (ours.mlp.fc2, "linear2."), (ours.norm1, "norm1."),
                 (ours.norm2, "norm2.")]  # fmt: skip
        state = {prefix + name: p for module, prefix in pairs for name, p in module.named_parameters()}
        stock.load_state_dict(state)
    return stack


class PlainStep(nn.Module):
    """The same step written with stock PyTorch layers (``nn.TransformerEncoder``, positions as buffers), starting
    from ``reference``'s weights: each (sample, mask set)'s context and each target run padded to the longest and
    masked, not packed. Same loss as the objective (per mask set, then averaged)."""

    def __init__(self, reference: JEPAObjective) -> None:
        super().__init__()
        enc, pred = reference.encoder, reference.predictor
        self.video, self.patch, self.tubelet = enc.is_video, enc.patch_size, enc.tubelet_size
        conv = enc.patch_embed.proj
        self.embed = nn.Linear(conv.weight[0].numel(), enc.embed_dim)
        self.embed.weight.data.copy_(conv.weight.movedim(1, -1).flatten(1))  # (u p q c) order, as patches()
        self.embed.bias.data.copy_(conv.bias)
        self.register_buffer("pos", enc.pos_embed[0].clone())
        self.encoder, self.norm = stock_stack(enc.blocks), copy.deepcopy(enc.norm)
        target = reference.target_encoder
        self.target = stock_stack(target.blocks).requires_grad_(False)
        self.target_norm = copy.deepcopy(target.norm).requires_grad_(False)
        self.pred_in, self.pred_out = copy.deepcopy(pred.predictor_embed), copy.deepcopy(pred.predictor_proj)
        self.register_buffer("pred_pos", pred.predictor_pos_embed[0].clone())
        self.mask_tokens = nn.Parameter(torch.cat(list(pred.mask_tokens))[:, 0].clone())
        self.predictor, self.pred_norm = stock_stack(pred.predictor_blocks), copy.deepcopy(pred.predictor_norm)
        self.token_loss, self.mask_token_offset = reference.token_loss, reference.mask_token_offset

    def patches(self, x: Tensor) -> Tensor:
        if self.video:
            return rearrange(x, "b c (t u) (h p) (w q) -> b (t h w) (u p q c)", u=self.tubelet, p=self.patch,
                             q=self.patch)  # fmt: skip
        return rearrange(x, "b c (h p) (w q) -> b (h w) (p q c)", p=self.patch, q=self.patch)

    @staticmethod
    def padded(index: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Runs of a flat index as ``[R, L]`` (padded with 0) and the padding mask (True = padding)."""
        table = nn.utils.rnn.pad_sequence(list(index.split(lengths.tolist())), batch_first=True)
        pad = torch.arange(table.shape[1], device=index.device)[None] >= lengths.to(index.device)[:, None]
        return table, pad

    def loss(self, group: dict[str, Any]) -> Tensor:
        """Mean over mask sets of the mean per-token loss of one group of equal clip length."""
        tokens = self.embed(self.patches(group["inputs"])) + self.pos
        with torch.no_grad():
            target = F.layer_norm(self.target_norm(self.target(tokens)), (tokens.shape[-1],))
        device = tokens.device
        owner, tgt_owner, ctx_set = (group[k].to(device) for k in ("ctx_owner", "tgt_owner", "ctx_set"))
        ctx_idx, ctx_pad = self.padded(group["ctx_index"], group["ctx_lengths"])
        context = self.norm(self.encoder(tokens[owner[:, None], ctx_idx], src_key_padding_mask=ctx_pad))
        tgt_idx, tgt_pad = self.padded(group["tgt_index"], group["tgt_lengths"])
        tgt_set = ctx_set[tgt_owner]
        mask_token = self.mask_tokens[self.mask_token_offset(group["num_frames"]) + tgt_set]
        seq = torch.cat([self.pred_in(context)[tgt_owner] + self.pred_pos[ctx_idx[tgt_owner]],
                         mask_token[:, None] + self.pred_pos[tgt_idx]], dim=1)  # fmt: skip
        pad = torch.cat([ctx_pad[tgt_owner], tgt_pad], dim=1)
        out = self.pred_out(self.pred_norm(self.predictor(seq, src_key_padding_mask=pad)))[:, ctx_idx.shape[1] :]
        keep = ~tgt_pad
        per_token = self.token_loss(out[keep].float(), target[owner[tgt_owner][:, None], tgt_idx][keep].float())
        token_set = tgt_set[:, None].expand_as(tgt_idx)[keep]
        num_sets = int(ctx_set.max()) + 1
        sums = per_token.new_zeros(num_sets).index_add_(0, token_set, per_token)
        return (sums / torch.bincount(token_set, minlength=num_sets).clamp(min=1)).mean()

    def ema(self, momentum: float) -> None:
        ema_update(self.target, self.encoder, momentum)


def ours_step(module: JEPAObjective, optimizer: torch.optim.Optimizer, total: int) -> Callable[[Any, int], Tensor]:
    def step(batch: Any, i: int) -> Tensor:
        apply_schedules(optimizer, module.optim_cfg, i, total)
        loss = module.compute_loss(batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ema_update(module.target_encoder, module.encoder, module.ema_cfg.start)
        return loss

    return step


def plain_step(module: PlainStep, optimizer: torch.optim.Optimizer) -> Callable[[Any, int], Tensor]:
    def step(batch: Any, i: int) -> Tensor:
        loss = torch.cat([module.loss(g)[None] for g in batch["groups"]]).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        module.ema(0.999)
        return loss

    return step


def measure(step: Callable[[Any, int], Tensor], batches: list[Any], steps: int, warmup: int, dtype: torch.dtype,
            device: torch.device) -> dict[str, Any]:  # fmt: skip
    """Median step time, FLOPs of one step and peak memory."""
    from torch.utils.flop_counter import FlopCounterMode

    def run(i: int) -> Tensor:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            return step(batches[i % len(batches)], i)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for i in range(warmup):
        run(i)
    counter = FlopCounterMode(display=False)
    with counter:
        run(warmup)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(steps):
        sync()
        start = time.perf_counter()
        loss = run(warmup + 1 + i).detach()
        sync()
        times.append(time.perf_counter() - start)
    if not torch.isfinite(loss):
        raise RuntimeError(f"non-finite loss {loss.item()} while benchmarking")
    if device.type == "cuda":
        peak, memory = torch.cuda.max_memory_allocated() / 2**30, "cuda_max_allocated"
    else:  # KiB on Linux; the process's peak so far, so run one --impl at a time for a clean CPU figure
        peak, memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "process_peak_rss"
    ms = statistics.median(times) * 1e3
    flops = counter.get_total_flops()
    return {"step_ms": round(ms, 2), "flops_per_step": flops, "tflops": round(flops / ms / 1e9, 3),
            "peak_gib": round(peak, 2), "memory": memory, "loss": round(loss.item(), 4)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu_tiny")
    parser.add_argument("--batch", type=int, default=None, help="default: the experiment's data.batch_size")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--impl", choices=("ours", "plain", "both"), default="ours")
    add_device_options(parser)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides on top of the preset")
    args = parser.parse_args(argv)
    device, dtype = device_and_dtype(args)
    torch.manual_seed(0)
    module, collate, shape, batch_size = build_objective(PRESETS[args.preset] + args.overrides)
    batch_size = args.batch or batch_size
    inputs = torch.randn(batch_size, *shape)
    batches = [module.transfer_batch_to_device(collate([(x, 0) for x in inputs]), device, 0) for _ in range(4)]
    group = batches[0]["groups"][0]
    info = {
        "preset": args.preset, "device": device_name(device),
        "threads": torch.get_num_threads(), "dtype": str(dtype).removeprefix("torch."), "batch": batch_size,
        "context_tokens": int(group["ctx_lengths"].sum()), "target_tokens": int(group["tgt_lengths"].sum()),
        "overrides": args.overrides,
    }  # fmt: skip
    impls = ["ours", "plain"] if args.impl == "both" else [args.impl]
    for impl in impls:
        if impl == "ours":
            model: nn.Module = module.to(device)
            optimizer = module.configure_optimizers()
            step = ours_step(module, optimizer, total=10_000)
            probe = torch.empty(1, device=device, dtype=dtype)
            backend = resolve_backend(module.encoder_cfg.attn_backend, probe)
        else:
            if module.encoder.use_rope:
                raise SystemExit("--impl plain computes sin-cos positions only: use a preset without RoPE")
            model = PlainStep(module).to(device)
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4,
                                          fused=device.type == "cuda")  # fmt: skip
            step, backend = plain_step(model, optimizer), "nn.MultiheadAttention"
        result = measure(step, batches, args.steps, args.warmup, dtype, device)
        samples = round(batch_size / result["step_ms"] * 1e3, 2)
        print(json.dumps({**info, "impl": impl, "backend": backend, **result, "samples_per_s": samples}), flush=True)
        model.cpu()


if __name__ == "__main__":
    sys.exit(run_script(main))
