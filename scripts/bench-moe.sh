#!/usr/bin/env bash
# The Mixtral-shaped benchmark of BENCHMARKS.md ("A mixture of experts against its dense
# equivalent"): generates a random BF16 checkpoint of Mixtral-8x7B's shape cut to LAYERS layers
# and its dense equivalent (Mistral-7B v0.2's shape, the same layers), prints what
# `apply --dry-run` states for a forward, then runs one forward per fresh JVM
# (scripts/bench MoeForwardBenchmark) for each model, budget and workload: bytes read (counted
# by the weight reader, and from disk with the page cache dropped), experts read, peak RSS.
# Checkpoints (5.9 GB and 1.4 GB for 2 layers) and outputs go under bench-data/ (git-ignored).
#
# usage: scripts/bench-moe.sh [LAYERS]
# needs: JAVA_HOME (Java 25), mvn, dd; ~8 GB of free disk and ~14 GB of free memory for the kept MoE
set -uo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
LAYERS=${1:-2}
D=bench-data
MOE=$D/mixtral-${LAYERS}l
DENSE=$D/mistral-${LAYERS}l
RUN=$D/moe-run
mkdir -p "$RUN"
scripts/neurotome --version >/dev/null
scripts/bench MixtralCheckpoint "$MOE" "$LAYERS" moe
scripts/bench MixtralCheckpoint "$DENSE" "$LAYERS" dense

echo "### apply --dry-run of a recipe that runs the MoE (zero one expert, one eval suite)"
cat > "$RUN/zero.yaml" <<YAML
model:
  path: $(pwd)/$MOE
edit:
  - op: zero-experts
    experts: [{layer: 0, expert: 3}]
output:
  dir: $(pwd)/$RUN/out
eval:
  suite: $(pwd)/eval/suites/arithmetic.yaml
  gates:
    - arithmetic.accuracy.delta <= 1.0
YAML
for b in 4g 6g 14g; do
    echo "--max-memory $b:"
    scripts/neurotome apply "$RUN/zero.yaml" --dry-run --max-memory "$b" 2>&1 | grep -E '^(weights|experts|Error)'
done
echo

echo "| checkpoint | --max-memory | weights | workload | forward s | GB read at open (counted) | GB from disk at open | experts read by the forward (per layer) | GB read by the forward (counted) | GB from disk by the forward | peak RSS MiB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for spec in "$MOE 4g" "$MOE 6g" "$MOE 14g" "$DENSE 4g" "$DENSE 1500m"; do
    set -- $spec
    for w in 1 8 4x8; do
        out=$(scripts/bench MoeForwardBenchmark "$1" "$2" "$w" 2>&1)
        if grep -q '^| ' <<<"$out"; then
            grep '^| ' <<<"$out"
        else
            echo "| $(basename "$1") | $2 | failed: $(grep -m1 -E 'Exception|Error' <<<"$out" | sed 's/.*: \(.*\)/\1/' | cut -c1-160) | $w | | | | | | | |"
        fi
    done
done
