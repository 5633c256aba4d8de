"""The action-anticipation probe (EPIC-KITCHENS-100 style, as in V-JEPA 2): a frozen encoder and predictor give
the tokens of a clip and of the frames a chosen time ahead; a grid of attentive heads with verb, noun and action
queries learns from them with a sigmoid focal loss; heads are compared by mean class recall@5."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader
from torchvision.ops import sigmoid_focal_loss

from jepa.probes.attentive import fit_and_choose, make_heads
from jepa.config import AnticipationProbeConfig
from jepa.data.anticipation import ActionClasses
from jepa.probes.heads import HeadResult
from predictors.anticipation import AnticipativeEncoder
from predictors.heads import ActionAnticipationClassifier


def focal_loss(logits: Tensor, labels: Tensor, alpha: float = 0.25, gamma: float = 2.0) -> Tensor:
    """Sigmoid focal loss against one-hot labels, summed over classes, averaged over the batch."""
    targets = F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    return sigmoid_focal_loss(logits, targets, alpha, gamma, reduction="sum") / len(labels)


def mean_class_recall(scores: Tensor, labels: Tensor, k: int = 5) -> float:
    """Recall@k averaged over the classes that occur in ``labels`` (EK100's class-mean recall)."""
    hit = (scores.topk(min(k, scores.shape[1]), dim=1).indices == labels[:, None]).any(1).float()
    classes = labels.unique()
    return float(torch.stack([hit[labels == c].mean() for c in classes]).mean())


def split_logits(logits: Tensor, classes: ActionClasses) -> tuple[Tensor, Tensor, Tensor]:
    """Verb, noun and action logits from the classifier's side-by-side output."""
    sizes = [classes.num_verbs, classes.num_nouns, len(classes.actions)]
    verb, noun, action = logits.split(sizes, dim=-1)
    return verb, noun, action


def anticipation_recalls(logits: Tensor, actions: Tensor, classes: ActionClasses) -> dict[str, float]:
    """Mean class recall@5 of verbs, nouns and actions (sigmoid scores, as the official metric)."""
    verbs, nouns = classes.verb_noun(actions)
    verb, noun, action = (x.sigmoid() for x in split_logits(logits, classes))
    return {"verb_recall5": mean_class_recall(verb, verbs), "noun_recall5": mean_class_recall(noun, nouns),
            "action_recall5": mean_class_recall(action, actions)}  # fmt: skip


def fit_anticipation_probe(
    model: AnticipativeEncoder,
    loaders: dict[str, DataLoader],
    classes: ActionClasses,
    cfg: AnticipationProbeConfig,
    num_heads: int,
    device: torch.device,
    seed: int = 0,
) -> tuple[list[HeadResult], int, Tensor, Tensor]:
    """Heads over ``cfg``'s grid trained with the focal loss of verb, noun and action, the best chosen by action
    recall@5 on ``loaders["holdout"]``; returns every head's recall there, the best's index, and its logits on
    ``loaders["val"]`` with the action labels."""
    torch.manual_seed(seed)
    grid = [(lr, wd) for lr in cfg.lrs for wd in cfg.weight_decays]
    sizes = (classes.num_verbs, classes.num_nouns, len(classes.actions))
    heads = make_heads(grid, lambda: ActionAnticipationClassifier(model.embed_dim, num_heads, cfg.num_probe_blocks,
                                                                  *sizes))  # fmt: skip
    model.eval()

    def encode(group: dict[str, Any]) -> Tensor:
        return model(group["inputs"].to(device), group["times"])[None]

    def loss(logits: Tensor, actions: Tensor) -> Tensor:
        verbs, nouns = (labels.to(logits.device) for labels in classes.verb_noun(actions.cpu()))
        verb, noun, action = split_logits(logits, classes)
        return focal_loss(verb, verbs) + focal_loss(noun, nouns) + focal_loss(action, actions)

    def action_recall(outputs: Tensor, actions: Tensor) -> float:
        return anticipation_recalls(outputs[0], actions, classes)["action_recall5"]

    results, best, val, labels = fit_and_choose(heads, grid, encode, loss, action_recall, loaders, cfg.epochs, device)
    return results, best, val[0], labels
