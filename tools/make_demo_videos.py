"""Render the PushT demo clips and their official-format lists: ``python tools/make_demo_videos.py OUT_DIR``.

Then pretrain on them: ``jepa fit experiment=vjepa2/quickstart data.demo_root=OUT_DIR``.
"""

from __future__ import annotations

import argparse

from jepa.data.demo_videos import make_demo_videos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="output folder (videos/, train.csv, val.csv)")
    parser.add_argument("--num-train", type=int, default=480)
    parser.add_argument("--num-val", type=int, default=240)
    parser.add_argument("--num-frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=64, help="frame height and width in pixels")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train, val = make_demo_videos(args.root, args.num_train, args.num_val, args.num_frames, args.size, args.fps,
                                  seed=args.seed)  # fmt: skip
    print(f"wrote {train} and {val}; a filmstrip of the first clips: {train.parent / 'preview.png'}")


if __name__ == "__main__":
    main()
