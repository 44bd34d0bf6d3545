#!/usr/bin/env bash
# Attribution and CNA by bounds against --exhaustive (BENCHMARKS.md, "Exact top K by bounds"):
#  7b: on the random Llama-2-7B-shaped BF16 checkpoint under --max-memory 4g, one prompt each:
#      predict on the attribution prompt (one streamed forward: the floor the bounded runs stand
#      on), then attribution and CNA (contrast), each as bounded (--top 20), --exhaustive, bounded
#      again, so that a change of the machine's load during the slow exhaustive run shows in the
#      two bounded times; the speed-up is against the slower of them;
#  dataset: attribution over 100 cases of the arithmetic data set on the 2-layer slice, the same
#      three runs.
# Each run is a fresh JVM; the script checks that both ways list the same top 20 (entries and
# numbers), samples the 1-minute load average every 5 s, and prints a table with each run's
# mean load. The checkpoints are the ones scripts/bench-7b.sh builds.
#
# usage: scripts/bench-bounds.sh [THREADS] [PARTS]   PARTS: 7b, dataset or all (default)
# needs: JAVA_HOME (Java 25), mvn, python3, awk, GNU time (/usr/bin/time)
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

PARTS=${2:-all}
LOAD=$RUN/load.txt
: >"$LOAD"
(while true; do echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg)" >>"$LOAD"; sleep 5; done) &
SAMPLER=$!
trap 'kill "$SAMPLER" 2>/dev/null' EXIT

# secs NAME CMD...: runs CMD, prints its wall seconds and the mean load average while it ran
secs() {
    local out=$1; shift
    local t0
    t0=$(date +%s)
    /usr/bin/time -o "$RUN/time.txt" -f '%e' "$@" >"$RUN/$out.out" 2>"$RUN/$out.err"
    printf '%s %s\n' "$(tail -n 1 "$RUN/time.txt")" "$(awk -v a="$t0" -v b="$(date +%s)" \
        '$1 >= a && $1 <= b { s += $2; n++ } END { printf "%.1f", n ? s / n : 0 }' "$LOAD")"
}

same() {
    python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def key(n):
    return {k: v for k, v in n.items() if k != "top_tokens"}
same = [key(n) for n in a["neurons"]] == [key(n) for n in b["neurons"]] and a["heads"] == b["heads"]
s = a["scoring"]
print("yes" if same else "NO", s["neurons_scored"], s["neurons"], s.get("heads_scored", "-"), s.get("heads", "-"))
PY
}

# both NAME LABEL ARGS...: bounded, --exhaustive, bounded again; one table row
both() {
    local name=$1 label=$2; shift 2
    local b1 l1 e le b2 l2 ok scored total hscored htotal
    read -r b1 l1 < <(secs "$name-b1" "$@" --json "$RUN/$name-b1.json")
    read -r e le < <(secs "$name-e" "$@" --exhaustive --json "$RUN/$name-e.json")
    read -r b2 l2 < <(secs "$name-b2" "$@" --json "$RUN/$name-b2.json")
    read -r ok scored total hscored htotal < <(same "$RUN/$name-b1.json" "$RUN/$name-e.json")
    [[ "$(same "$RUN/$name-b2.json" "$RUN/$name-e.json")" == yes* ]] || ok=NO
    printf '| %s | %s (load %s), %s (load %s) | %s (load %s) | %.1f× | %s | %s of %s | %s of %s |\n' "$label" \
        "$b1" "$l1" "$b2" "$l2" "$e" "$le" "$(awk -v e="$e" -v a="$b1" -v b="$b2" 'BEGIN { print e / (a > b ? a : b) }')" "$ok" \
        "$scored" "$total" "$hscored" "$htotal"
}

COMMON=(--max-memory 4g --threads "$THREADS")
P="The capital of France is"
echo "| run | by bounds, s (twice) | --exhaustive, s | speed-up (against the slower bounded run) | same top 20 | neurons scored exactly | heads scored exactly |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
if [[ $PARTS == all || $PARTS == 7b ]]; then
    read -r floor lf < <(secs predict scripts/neurotome predict "$M7" --prompt "$P" "${COMMON[@]}")
    echo "| 7B predict, the floor: one streamed forward | $floor (load $lf) | - | - | - | - | - |"
    both attr "7B attribution, one prompt" scripts/neurotome locate "$M7" --method attribution --prompt "$P" \
        --top 20 "${COMMON[@]}"
    both cna "7B CNA --contrast, one pair" scripts/neurotome locate "$M7" --method cna \
        --prompt "A woman works as a" --contrast "A man works as a" --top 20 "${COMMON[@]}"
fi
if [[ $PARTS == all || $PARTS == dataset ]]; then
    both ds "2-layer slice attribution, 100 cases" scripts/neurotome locate "$M2" --method attribution \
        --dataset eval/datasets/arithmetic.jsonl --limit 100 --top 20 --threads "$THREADS"
fi
