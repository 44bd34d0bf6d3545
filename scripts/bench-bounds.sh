#!/usr/bin/env bash
# Attribution and CNA by bounds against --exhaustive (BENCHMARKS.md, "Exact top K by bounds"):
#  1. on the random Llama-2-7B-shaped BF16 checkpoint under --max-memory 4g, one prompt each:
#     attribution and CNA (contrast) with --top 20, then with --exhaustive, and predict on the same
#     prompt (one streamed forward: the floor the bounded runs stand on);
#  2. attribution over 100 cases of the arithmetic data set on the 2-layer slice, both ways.
# Each run is a fresh JVM; the script checks that both ways list the same top 20 (entries and
# numbers) and prints a table. The checkpoints are the ones scripts/bench-7b.sh builds.
#
# usage: scripts/bench-bounds.sh [THREADS]
# needs: JAVA_HOME (Java 25), mvn, python3, GNU time (/usr/bin/time)
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
THREADS=${1:-2}
D=bench-data
M7=$D/llama2-7b
M2=$D/llama2-7b-2layers
RUN=$D/bounds-run
mkdir -p "$RUN"

scripts/neurotome --version >/dev/null
[[ -f "$M7/config.json" ]] || scripts/bench SevenBillionCheckpoint "$M7" 32
[[ -f "$M2/config.json" ]] || scripts/bench SevenBillionCheckpoint "$M2" 2

secs() {
    local out=$1; shift
    /usr/bin/time -o "$RUN/time.txt" -f '%e' "$@" >"$RUN/$out.out" 2>"$RUN/$out.err"
    tail -n 1 "$RUN/time.txt"
}

same() {
    python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def key(n):
    return {k: v for k, v in n.items() if k != "top_tokens"}
same = [key(n) for n in a["neurons"]] == [key(n) for n in b["neurons"]] and a["heads"] == b["heads"]
s = a["scoring"]
print("yes" if same else "NO", s["neurons_scored"], s["neurons"])
PY
}

COMMON=(--max-memory 4g --threads "$THREADS")
P="The capital of France is"
echo "| run | by bounds, s | --exhaustive, s | speed-up | same top 20 | neurons scored exactly |"
echo "| --- | --- | --- | --- | --- | --- |"
floor=$(secs predict scripts/neurotome predict "$M7" --prompt "$P" "${COMMON[@]}")
b=$(secs attr-b scripts/neurotome locate "$M7" --method attribution --prompt "$P" --top 20 --json "$RUN/attr-b.json" "${COMMON[@]}")
e=$(secs attr-e scripts/neurotome locate "$M7" --method attribution --prompt "$P" --top 20 --exhaustive --json "$RUN/attr-e.json" "${COMMON[@]}")
read -r ok scored total < <(same "$RUN/attr-b.json" "$RUN/attr-e.json")
printf '| 7B attribution, one prompt (predict: %s s) | %s | %s | %.1f× | %s | %s of %s |\n' "$floor" "$b" "$e" "$(echo "$e / $b" | bc -l)" "$ok" "$scored" "$total"
CNA=(--method cna --prompt "A woman works as a" --contrast "A man works as a" --top 20)
b=$(secs cna-b scripts/neurotome locate "$M7" "${CNA[@]}" --json "$RUN/cna-b.json" "${COMMON[@]}")
e=$(secs cna-e scripts/neurotome locate "$M7" "${CNA[@]}" --exhaustive --json "$RUN/cna-e.json" "${COMMON[@]}")
read -r ok scored total < <(same "$RUN/cna-b.json" "$RUN/cna-e.json")
printf '| 7B CNA --contrast, one pair | %s | %s | %.1f× | %s | %s of %s |\n' "$b" "$e" "$(echo "$e / $b" | bc -l)" "$ok" "$scored" "$total"
DS=(--method attribution --dataset eval/datasets/arithmetic.jsonl --limit 100 --top 20)
b=$(secs ds-b scripts/neurotome locate "$M2" "${DS[@]}" --json "$RUN/ds-b.json" --threads "$THREADS")
e=$(secs ds-e scripts/neurotome locate "$M2" "${DS[@]}" --exhaustive --json "$RUN/ds-e.json" --threads "$THREADS")
read -r ok scored total < <(same "$RUN/ds-b.json" "$RUN/ds-e.json")
printf '| 2-layer slice attribution, 100 cases | %s | %s | %.1f× | %s | %s of %s |\n' "$b" "$e" "$(echo "$e / $b" | bc -l)" "$ok" "$scored" "$total"
