#!/usr/bin/env bash
# The dry-run estimate against measured runs (BENCHMARKS.md, "Dry-run estimates"): every shipped
# recipe is planned (apply --dry-run --json) and then run, each in a fresh JVM under GNU time
# (wall seconds and peak resident set = VmHWM), and a table prints the estimated ranges, the
# measured figures and whether each measurement is within 2x of the time range and 1.5x of the
# memory range (low / factor <= measured <= high * factor).
#
# usage: scripts/bench-estimates.sh [STEPS] [THREADS]
#   STEPS    training steps of every LoRA (a recipe's recover stage and a lora-scan's train),
#            given with --set; "full" (the default) runs the recipes as shipped
#   THREADS  --threads of every run (default: libtorch's own)
# needs: JAVA_HOME (Java 25), mvn, python3, GNU time (/usr/bin/time)
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
STEPS=${1:-full}
THREADS=${2:-}
RUN=bench-data/estimates
mkdir -p "$RUN"
scripts/neurotome --version >/dev/null

echo "| recipe | estimated s | measured s | time within 2× | estimated peak RSS MiB | measured MiB | memory within 1.5× |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for recipe in recipes/*.yaml; do
    name=$(basename "$recipe" .yaml)
    args=(--out "$RUN/$name-out" --force)
    [[ -n "$THREADS" ]] && args+=(--threads "$THREADS")
    if [[ "$STEPS" != full ]]; then
        grep -q '^recover:' "$recipe" && args+=(--set "recover.steps=$STEPS")
        grep -q 'method: lora-scan' "$recipe" && args+=(--set "locate.0.train.steps=$STEPS")
    fi
    scripts/neurotome apply "$recipe" "${args[@]}" --dry-run --json >"$RUN/$name.plan.json"
    /usr/bin/time -o "$RUN/$name.time" -f '%e %M' scripts/neurotome apply "$recipe" "${args[@]}" \
        >"$RUN/$name.out" 2>"$RUN/$name.err" || true # a failed gate exits 1; the run still counts
    read -r secs kib < <(tail -n 1 "$RUN/$name.time")
    python3 - "$RUN/$name.plan.json" "$name" "$secs" "$kib" <<'PY'
import json, sys
plan, name, secs, kib = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
e = json.load(open(plan))["estimate"]
mib = kib / 1024
t, m = e["seconds"], e["memoryBytes"]
lo_m, hi_m = m["low"] / 2**20, m["high"] / 2**20
def within(x, lo, hi, f):
    return "yes" if lo / f <= x <= hi * f else "NO"
print(f"| {name} | {t['low']:.0f}–{t['high']:.0f} | {secs:.1f} | {within(secs, t['low'], t['high'], 2)} "
      f"| {lo_m:.0f}–{hi_m:.0f} | {mib:.0f} | {within(mib, lo_m, hi_m, 1.5)} |")
PY
done
