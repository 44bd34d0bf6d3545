#!/usr/bin/env bash
# A sweep with shared units against the same variants run one by one (BENCHMARKS.md, "Sweeps"):
# the shipped gender recipe over locate.0.top=6,12,18,24, measured in one run, each command a
# fresh JVM:
#  1. 4 sequential `apply --set locate.0.top=N` runs: every run computes the CNA ranking and
#     evaluates the unedited input itself (nothing shared);
#  2. `sweep --engine local`: the ranking and the input's evaluation are units computed once;
#  3. `sweep --engine spark --master local[2]`: the same units as Spark tasks.
# The script checks that the sweeps' rows are equal and that each variant's model SHA-256 is
# the one its apply wrote, then prints a table with each run's ratio to the 4 applies.
#
# usage: scripts/bench-sweep.sh
# needs: JAVA_HOME (Java 25), mvn, python3, GNU time (/usr/bin/time)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=bench-data/sweep-run
rm -rf "$RUN"
mkdir -p "$RUN"
scripts/neurotome --version >/dev/null
RECIPE=recipes/gender-debias.yaml
TOPS=(6 12 18 24)

# Runs a command, printing its wall time; exit code 1 (a failed gate: a small top leaves the bias
# gap too wide, and apply still writes its output) counts as done, any other failure stops here.
secs() {
    local out=$1 rc=0; shift
    /usr/bin/time -o "$RUN/time.txt" -f '%e' "$@" >"$RUN/$out.out" 2>"$RUN/$out.err" || rc=$?
    if (( rc > 1 )); then cat "$RUN/$out.err" >&2; exit 1; fi
    tail -n 1 "$RUN/time.txt"
}

applies=0
for t in "${TOPS[@]}"; do
    s=$(secs "apply-$t" scripts/neurotome apply "$RECIPE" --set "locate.0.top=$t" --out "$RUN/apply-$t" --threads 1)
    applies=$(python3 -c "print(round($applies + $s, 2))")
done
GRID=locate.0.top=$(IFS=,; echo "${TOPS[*]}")
local_s=$(secs local scripts/neurotome sweep "$RECIPE" --grid "$GRID" --out "$RUN/local" --threads 1 --keep-all)
spark_s=$(secs spark scripts/neurotome sweep "$RECIPE" --grid "$GRID" --out "$RUN/spark" --threads 1 --keep-all \
    --engine spark --master 'local[2]')

python3 - "$RUN" "$applies" "$local_s" "$spark_s" "${TOPS[@]}" <<'PY'
import hashlib, json, os, sys
run, applies, local_s, spark_s, tops = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5:]
local, spark = (json.load(open(f"{run}/{e}/sweep.json")) for e in ("local", "spark"))
assert local["rows"] == spark["rows"], "the engines' rows differ"
def fingerprint(d):
    # the checkpoint's identity as neurotome computes it: sha256sum lines of its JSON and safetensors files
    lines = "".join(hashlib.sha256(open(f"{d}/{f}", "rb").read()).hexdigest() + "  " + f + "\n"
                    for f in sorted(os.listdir(d)) if os.path.isfile(f"{d}/{f}")
                    and (f.endswith(".safetensors") or f.endswith(".json") and f != "manifest.json"))
    return hashlib.sha256(lines.encode()).hexdigest()
for row, t in zip(local["rows"], tops):
    assert row["model_sha256"] == fingerprint(f"{run}/apply-{t}"), f"variant top={t} is not what apply wrote"
u = local["units"]
print(f"units: {u['planned']} planned, {u['run']} run (local), {spark['units']['run']} run (spark)")
print("| run | wall time | against 4 applies |")
print("| --- | ---: | ---: |")
print(f"| 4 × `apply --set locate.0.top=N --threads 1` | {applies:.1f} s | 1.00 |")
print(f"| `sweep --grid locate.0.top=6,12,18,24` (local engine) | {local_s:.1f} s | {local_s / applies:.2f} |")
print(f"| `sweep … --engine spark --master 'local[2]'` | {spark_s:.1f} s | {spark_s / applies:.2f} |")
PY
