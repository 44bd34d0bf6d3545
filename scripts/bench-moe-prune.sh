#!/usr/bin/env bash
# The expert-pruning table of checkpoints/README.md ("fixture-mixtral: pruning experts"): the
# shipped recipe recipes/moe-expert-prune.yaml removes, from every sparse layer of
# fixture-mixtral, the experts of lowest REAP saliency (expert-usage), of lowest expert-scan drop
# (the same recipe with method expert-scan: accuracy drop, then probability drop, over the same
# cases) and, as the baseline, experts drawn at random (seeded, the same count per layer); at
# 2 and 4 of 8 experts per layer. Each output is scored by the recipe's eval suite against the
# original; a row per run: arithmetic accuracy (every answer token top-1) and held-out perplexity.
# One libtorch thread per run (on a shared machine more threads spin against other processes).
#
# usage: scripts/bench-moe-prune.sh [SEED]     (SEED of the random choice, default 7)
# needs: JAVA_HOME (Java 25), mvn, python3
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${1:-7}
RUN=bench-data/moe-prune
mkdir -p "$RUN"
RECIPE=recipes/moe-expert-prune.yaml
NEUROTOME=${NEUROTOME:-scripts/neurotome}
"$NEUROTOME" --version >/dev/null

run() { # name recipe [--set k=v]...
    local name=$1 recipe=$2
    shift 2
    "$NEUROTOME" apply "$recipe" --out "$RUN/$name" --force --threads 1 "$@" >"$RUN/$name.out" 2>"$RUN/$name.err" || true
}

for n in 2 4; do
    run "reap-$n" "$RECIPE" --set "select.0.lowest=$n"
    run "scan-$n" "$RECIPE" --set "select.0.lowest=$n" --set locate.0.method=expert-scan
    # the same recipe with the experts listed: n of 8 per layer, drawn with Python's random.Random(SEED)
    experts=$(python3 -c "
import random, sys
r = random.Random($SEED + $n)
print('[' + ', '.join(f'{l}.{e}' for l in range(4) for e in sorted(r.sample(range(8), $n))) + ']')")
    python3 - "$RECIPE" "$RUN/random-$n.yaml" "$experts" <<'PY'
import re, sys
src, dst, experts = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(src).read()
text = re.sub(r"\nlocate:.*?\nedit:", "\nedit:", text, flags=re.S)
text = text.replace("experts: ${weak_experts}", "experts: " + experts)
text = text.replace("../", "../../")  # bench-data/moe-prune/ is two folders below the root
open(dst, "w").write(text)
PY
    run "random-$n" "$RUN/random-$n.yaml"
done

python3 - "$RUN" <<'PY'
import json, sys, os
run = sys.argv[1]
def report(name):
    return json.load(open(os.path.join(run, name, "eval", "report.json")))
def kept(name):
    return json.load(open(os.path.join(run, name, "config.json")))["num_local_experts"]
base = report("reap-2")["baseline_metrics"]
print("| experts removed per layer | chosen by | experts left | arithmetic accuracy | Δ (points) | perplexity | Δ perplexity |")
print("| --- | --- | --- | --- | --- | --- | --- |")
print(f"| 0 | (original) | 8 | {100 * base['arithmetic.accuracy']:.1f} | | {base['language.perplexity']:.3f} | |")
for n in (2, 4):
    for kind, label in (("reap", "REAP saliency (expert-usage)"), ("scan", "expert-scan drop"),
                        ("random", "random")):
        name = f"{kind}-{n}"
        m = report(name)["metrics"]
        acc, ppl = m["arithmetic.accuracy"], m["language.perplexity"]
        print(f"| {n} | {label} | {kept(name)} | {100 * acc:.1f} | {100 * (acc - base['arithmetic.accuracy']):+.1f} "
              f"| {ppl:.3f} | {100 * (ppl / base['language.perplexity'] - 1):+.1f} % |")
PY
