"""A script-mode training script, as written for the managed service (argparse + SM_* variables)."""

import argparse
import json
import os

parser = argparse.ArgumentParser()
parser.add_argument("--eta", type=float)
parser.add_argument("--subsample", type=float)
parser.add_argument("--momentum", type=float)
parser.add_argument("--max_depth", type=int)
parser.add_argument("--booster", type=str)
parser.add_argument("--num_round", type=int)
parser.add_argument("--objective", type=str)
parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
args = parser.parse_args()

hps = json.loads(os.environ["SM_HPS"])
assert hps["max_depth"] == args.max_depth and hps["num_round"] == 20, hps
with open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")) as f:
    assert json.load(f)["booster"] == args.booster
assert json.loads(os.environ["SM_HOSTS"]) == ["algo-1"] and os.environ["SM_CURRENT_HOST"] == "algo-1"
assert int(os.environ["SM_NUM_GPUS"]) >= 0
with open(os.path.join(args.model_dir, "model.txt"), "w") as f:
    f.write("trained\n")
os.makedirs(os.environ["SM_OUTPUT_DATA_DIR"], exist_ok=True)
rmse = (args.eta - 0.1) ** 2 + (1 - args.subsample) + args.max_depth / 100 + (args.booster == "dart")
print(f"[0] validation-rmse={rmse:.6f}", flush=True)
