"""Record PushT episodes (gym-pusht) with the random-walk policy as world-model training data:
``python tools/record_pusht.py OUT_DIR [--episodes 400] [--steps 24]``.

Writes ``OUT_DIR/episodes/*.mp4`` + ``*.npz`` (actions, states, agent and block poses) and ``OUT_DIR/episodes.csv``;
then train on them: ``jepa fit experiment=wm/pusht_quickstart data.demo_root=null data.episodes=OUT_DIR/episodes.csv``.
"""

from __future__ import annotations

import argparse

from jepa.envs.pusht import record_episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="output folder (episodes/, episodes.csv, preview.png)")
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--steps", type=int, default=24, help="moves per episode (frames: one more)")
    parser.add_argument("--size", type=int, default=64, help="frame height and width in pixels")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    listing = record_episodes(args.root, args.episodes, args.steps, args.size, args.fps, args.seed)
    print(f"wrote {listing}; a filmstrip of the first episodes: {listing.parent / 'preview.png'}")


if __name__ == "__main__":
    main()
