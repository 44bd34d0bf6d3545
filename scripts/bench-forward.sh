#!/usr/bin/env bash
# Tokens/s of a batched forward (B x S tokens, logits at the last position) in neurotome
# (DJL + libtorch) and in PyTorch eager (scripts/torch_forward.py), on the same random
# GPT-2-small-shaped and GQA-Llama-shaped checkpoints, with the same number of threads.
# Checkpoints are generated on first use under bench-data/ (git-ignored).
#
# usage: [PYTHON=python-with-torch] scripts/bench-forward.sh [THREADS] [BATCH] [SEQ] [ITERS] [ROUNDS]
# needs: JAVA_HOME (Java 25), mvn, /usr/bin/python3 with torch (apt-get install python3-torch
# libopenblas0-pthread: without an optimised BLAS, Debian's torch multiplies with the reference one)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-$(nproc)}
BATCH=${2:-8}
SEQ=${3:-128}
ITERS=${4:-5}
ROUNDS=${5:-2}
DIR=bench-data
PYTHON=${PYTHON:-/usr/bin/python3}

mvn -B -q test-compile
mvn -B -q -pl core dependency:build-classpath -Dmdep.outputFile="$PWD/target/bench.classpath" >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench.classpath)"
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
# Rounds alternate the two implementations so that both meet the same background load;
# the table reports each one's best time over all rounds (and the median of its best round).
for round in $(seq 1 "$ROUNDS"); do
    "$JAVA_HOME/bin/java" -Xmx6g -Dai.djl.offline=true -Dai.djl.pytorch.num_threads="$THREADS" \
        --enable-native-access=ALL-UNNAMED -cp "$CP" org.neurotome.bench.ForwardBenchmark "$DIR" "$BATCH" "$SEQ" "$ITERS"
    for model in gpt2-bench llama-bench; do
        cp "$DIR/$model/java.json" "$DIR/$model/java-$round.json"
        "$PYTHON" scripts/torch_forward.py "$DIR/$model" --batch "$BATCH" --seq "$SEQ" --iters "$ITERS" \
            --threads "$THREADS" > "$DIR/$model/torch-$round.json"
    done
done
/usr/bin/python3 - "$DIR" "$ROUNDS" <<'PY'
import json, sys
d, rounds = sys.argv[1], int(sys.argv[2])
torch_version = json.load(open(f"{d}/gpt2-bench/torch-1.json"))["torch"]
print(f"| model | params | threads | batch x seq | neurotome tokens/s | PyTorch {torch_version} eager tokens/s | ratio | max abs logit diff |")
print("|---|---|---|---|---|---|---|---|")
for m in ["gpt2-bench", "llama-bench"]:
    js = [json.load(open(f"{d}/{m}/java-{r}.json")) for r in range(1, rounds + 1)]
    ts = [json.load(open(f"{d}/{m}/torch-{r}.json")) for r in range(1, rounds + 1)]
    j = min(js, key=lambda x: x["best_s"])
    t = min(ts, key=lambda x: x["best_s"])
    tok = j["batch"] * j["seq"]
    print(f"| {m} | {j['params']/1e6:.1f}M | {j['threads']} | {j['batch']} x {j['seq']} "
          f"| {tok/j['best_s']:.0f} (median {tok/j['median_s']:.0f}) | {tok/t['best_s']:.0f} (median {tok/t['median_s']:.0f}) "
          f"| {t['best_s']/j['best_s']:.2f} | {max(x['max_abs_diff_vs_java'] for x in ts):.1e} |")
PY
