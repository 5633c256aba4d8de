import numpy as np

from jepa.envs.pusht import VIEW_HIGH, VIEW_LOW, PushingPolicy, PushTState, PushTView, random_actions, sample_start


def test_the_pushing_policy_moves_and_turns_the_block_more_than_the_random_walk_and_keeps_it_in_view():
    view = PushTView(32)
    shift, turn, inside = {}, {}, {}
    for policy in ("random_walk", "pushing"):
        rng = np.random.default_rng(0)
        shifts, turns, kept = [], [], []
        for episode in range(8):
            view.reset(sample_start(rng), seed=episode)
            start = view.state
            pusher, walk = PushingPolicy(rng), random_actions(rng, 24)
            for t in range(24):
                view.step(pusher(view.state) if policy == "pushing" else walk[t])
            _, block, angle = start.distances(view.state)
            shifts.append(block)
            turns.append(angle)
            kept.append(all(VIEW_LOW < c < VIEW_HIGH for c in view.state.block[:2]))
        shift[policy], turn[policy], inside[policy] = np.mean(shifts), np.mean(turns), np.mean(kept)
    view.close()
    assert shift["pushing"] > 1.5 * shift["random_walk"] and turn["pushing"] > 1.5 * turn["random_walk"]
    assert inside["pushing"] == 1.0


def test_the_pushing_policy_pushes_from_behind_the_block_and_walks_round_it_from_in_front():
    block = np.array([256.0, 256.0])
    policy = PushingPolicy(np.random.default_rng(1), noise=0.0)
    policy(PushTState((200.0, 200.0), (*block, 0.0)))  # draws the first target
    heading = policy.heading.copy()
    cosine = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    in_front = block + policy.standoff * heading
    move = policy(PushTState(tuple(in_front), (*block, 0.0)))
    assert not policy.pushing and cosine(move, block - in_front) < 0.8, "round the side, not through the block"
    behind = block - policy.standoff * heading
    move = policy(PushTState(tuple(behind), (*block, 0.0)))
    assert policy.pushing and cosine(move, heading) > 0.95, "from behind it pushes along the heading (clipped per axis)"
