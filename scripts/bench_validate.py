#!/usr/bin/env python3
"""The reference side of `scripts/bench validate`: the Table Schema that makes
`frictionless validate` check what `holdfast validate --standard ameriflux-base` checks on
the same columns, and the comparison of the two reports.

  python3 scripts/bench_validate.py schema STANDARD.json CSV OUT_SCHEMA.json
  python3 scripts/bench_validate.py compare STANDARD.json CSV HOLDFAST.json FRICTIONLESS.json
  python3 scripts/bench_validate.py time OUT -- COMMAND...
(`time` runs COMMAND with its output to OUT and prints its wall-clock and CPU seconds, user
plus system, and its exit code: on a shared machine the CPU seconds are the steadier figure.)

STANDARD.json is holdfast's schemas/ameriflux-base.json, whose per-variable min/max are the
published AmeriFlux FP-Standard physical ranges (amf_fp_var_limits_20230223.json, copied by
scripts/gen_ameriflux_schema.py), so both tools judge against the same numbers.

The schema, column by column:
- TIMESTAMP_START/END: `datetime` with format `%Y%m%d%H%M`. holdfast checks that each is
  twelve digits that make a real date and time; a datetime pattern is the closest Table
  Schema has (strptime also takes some shorter, unpadded forms).
- every other column: `number` (holdfast reads each as a number), `floatNumber: true`
  (holdfast reads binary floats too; frictionless otherwise builds a Decimal per cell, which
  is slower and would flatter the ratio), and `constraints.minimum/maximum` = the
  variable's published [Min, Max] when it has limits.
- missingValues ["-9999"], the one AmeriFlux missing-value code.

Why [Min, Max] and not something else: holdfast's range rule (AmeriFlux data QA/QC) is
statistical. It counts, per column and calendar year, the values outside [Min, Max] -- "far"
outside when beyond a band of 5% of the range, "just" outside otherwise -- and reports one
`out-of-range` finding per column and year when far-outside values exceed 0.1% of the year's
rows (ERROR), or just-outside ones exceed 1% (WARNING, not for radiation and % variables).
Table Schema can only judge single values, so frictionless gets the per-value half of the
rule: every value holdfast counts is one frictionless constraint-error, and nothing else is.
The comparison then applies the yearly shares to frictionless's per-value errors and
requires exactly holdfast's findings (same column, year, level, counts and first row).

Rule differences the comparison accepts (everything else fails the bench):
- AmeriFlux treats NaN, Inf, blanks, NA, -999-like numbers and #VALUE!-like cells as invalid
  missing-value codes (`missing-value-code`). Table Schema counts NaN/INF as numbers and
  -999 as a number: frictionless reports such cells as type or constraint errors, or not at
  all. Each holdfast missing-value-code finding must match a frictionless error on the same
  cell, unless the cell is one Table Schema accepts (a number within the constraints).
- Findings without a Table Schema counterpart are holdfast's only and are listed, not
  compared: file name, variable names, timestamp sequence (gaps, steps, duplicates), columns
  that are never or always missing.
Row numbers agree: both count the header as row 1 (the file has no blank or multi-line rows).
Findings beyond holdfast's cap of 100 per check and file are only counted, without a column;
per-cell comparison is then replaced by comparing totals.
"""
import collections
import csv
import json
import re
import sys

TS_FORMAT = "%Y%m%d%H%M"


def load_standard(path):
    amf = json.load(open(path, encoding="utf-8"))["ameriflux"]
    return amf, {v["name"]: v for v in amf["variables"]}


def base_name(label, amf, variables):
    """The FP-Standard variable a label names (longest known prefix, as holdfast parses)."""
    if label in (amf["timestampStart"], amf["timestampEnd"]):
        return None
    tokens = label.split("_")
    for cut in range(len(tokens), 0, -1):
        base = "_".join(tokens[:cut])
        if base in variables:
            return base
    return None


def header(csv_path):
    with open(csv_path, newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def make_schema(standard_path, csv_path, out_path):
    amf, variables = load_standard(standard_path)
    fields = []
    for label in header(csv_path):
        if label in (amf["timestampStart"], amf["timestampEnd"]):
            fields.append({"name": label, "type": "datetime", "format": TS_FORMAT})
            continue
        field = {"name": label, "type": "number", "floatNumber": True}
        var = variables.get(base_name(label, amf, variables))
        constraints = {}
        if var and var.get("min") is not None:
            constraints["minimum"] = var["min"]
        if var and var.get("max") is not None:
            constraints["maximum"] = var["max"]
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    schema = {"fields": fields, "missingValues": [amf["missingValue"]]}
    json.dump(schema, open(out_path, "w", encoding="utf-8"), indent=1)


INVALID_MISSING_WORDS = {"na", "nan", "inf", "infinity"}


def is_invalid_missing(cell):
    """AmeriFlux's invalid missing-value codes (holdfast's values::is_invalid_missing)."""
    t = cell.strip()
    if not t:
        return True
    unsigned = t[1:] if t[:1] in "+-" else t
    if unsigned.lower() in INVALID_MISSING_WORDS:
        return True
    if t.startswith("#"):
        return re.fullmatch(r"#\w+[?!]", t, re.ASCII) is not None
    return re.fullmatch(r"-[69]{3,}(\.(0+|[69]+))?", t) is not None


def table_schema_number(cell):
    try:
        return float(cell)
    except ValueError:
        return None


def compare(standard_path, csv_path, ours_path, ref_path):
    amf, variables = load_standard(standard_path)
    labels = header(csv_path)
    ts_columns = {amf["timestampStart"], amf["timestampEnd"]}
    ours = json.load(open(ours_path, encoding="utf-8"))
    ref = json.load(open(ref_path, encoding="utf-8"))
    problems = []

    (file_report,) = ours["files"]
    task = ref["tasks"][0]
    ref_errors = ref.get("errors", []) + task["errors"]
    if task["stats"]["rows"] != file_report["rows"]:
        problems.append(
            f"rows read: holdfast {file_report['rows']}, frictionless {task['stats']['rows']}"
        )
    suppressed = collections.Counter()
    for s in file_report["suppressed"]:
        suppressed[s["code"]] += s["count"]

    # frictionless: one entry per cell (NaN breaks both minimum and maximum).
    ref_cells = {}
    for e in ref_errors:
        if e["type"] not in ("type-error", "constraint-error"):
            problems.append(f"frictionless {e['type']} has no holdfast check here: {e['message']}")
            continue
        key = (e["rowNumber"], e["fieldName"])
        ref_cells.setdefault(key, (e["type"], e["cell"]))
    # holdfast: findings by code.
    ours_by_code = collections.defaultdict(dict)
    for f in file_report["findings"]:
        ours_by_code[f["code"]][(f.get("row"), f.get("column"))] = f

    # Year of each data row and rows per year, as holdfast's range check counts them.
    year_of_row = {}
    rows_in_year = collections.Counter()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        si = labels.index(amf["timestampStart"])
        for n, cells in enumerate(reader, start=2):
            ts = cells[si] if si < len(cells) else ""
            if len(ts) == 12 and ts.isdigit():
                year_of_row[n] = int(ts[:4])
                rows_in_year[int(ts[:4])] += 1

    lines = []

    def cellwise(name, ours_code, ref_keys, explained=lambda key, finding: False):
        """Compares a holdfast check with frictionless errors cell by cell."""
        mine = ours_by_code.get(ours_code, {})
        total = len(mine) + suppressed[ours_code]
        extra_ours = [k for k, f in mine.items() if k not in ref_keys and not explained(k, f)]
        accepted = sum(1 for k, f in mine.items() if k not in ref_keys and explained(k, f))
        if suppressed[ours_code]:
            same = total - accepted == len(ref_keys) and not extra_ours
            how = "totals (holdfast kept 100, counted the rest)"
        else:
            missing = [k for k in ref_keys if k not in mine]
            same = not extra_ours and not missing
            how = "cell by cell"
        note = f", {accepted} by AmeriFlux rule only" if accepted else ""
        lines.append(
            f"  {name:<34} holdfast {total:>6}   frictionless {len(ref_keys):>6}   "
            f"{'same' if same else 'DIFFERENT'} ({how}{note})"
        )
        if not same:
            problems.append(f"{name}: holdfast and frictionless disagree")
        return mine

    # Not a number.
    type_keys = {
        k for k, (t, cell) in ref_cells.items()
        if t == "type-error" and k[1] not in ts_columns and not is_invalid_missing(cell)
    }
    cellwise("not a number (type-error)", "type-error", type_keys)

    # Invalid missing-value codes: frictionless sees them as type or constraint errors,
    # or as valid numbers (then only AmeriFlux's rule flags them).
    def accepted_number(key, finding):
        value = table_schema_number(finding.get("value") or "")
        if value is None:
            return False
        var = variables.get(base_name(key[1], amf, variables)) or {}
        lo, hi = var.get("min"), var.get("max")
        return (lo is None or value >= lo) and (hi is None or value <= hi)

    missing_keys = {
        k for k, (t, cell) in ref_cells.items()
        if k[1] not in ts_columns and is_invalid_missing(cell)
    }
    cellwise("invalid missing code (NaN, NA, ..)", "missing-value-code", missing_keys,
             accepted_number)

    # Timestamps that are no valid date and time.
    ts_keys = {k for k, (t, _) in ref_cells.items() if t == "type-error" and k[1] in ts_columns}
    cellwise("bad timestamp (timestamp-format)", "timestamp-format", ts_keys)

    # Physical range: frictionless's per-value errors, aggregated as AmeriFlux does.
    outside = collections.defaultdict(lambda: {"hard": 0, "soft": 0, "first": None})
    per_column = collections.Counter()
    r = amf["range"]
    for (row, column), (t, cell) in sorted(ref_cells.items()):
        if t != "constraint-error" or is_invalid_missing(cell):
            continue
        per_column[column] += 1
        var = variables[base_name(column, amf, variables)]
        lo, hi = var.get("min"), var.get("max")
        band = (hi - lo) * r["margin"] if lo is not None and hi is not None else r["margin"] * 100
        value = float(cell)
        hard = (lo is not None and value < lo - band) or (hi is not None and value > hi + band)
        c = outside[(column, year_of_row.get(row))]
        c["hard" if hard else "soft"] += 1
        c["first"] = c["first"] or row
    expected = {}
    for (column, year), c in outside.items():
        rows = rows_in_year[year]
        var = variables[base_name(column, amf, variables)]
        if c["hard"] / rows > r["hardShare"]:
            level = "ERROR"
        elif c["soft"] / rows > r["softShare"] and var.get("softFlagWarning", True):
            level = "WARNING"
        else:
            continue
        expected[(column, year)] = (level, c["hard"], c["soft"], c["first"])
    found = {}
    pattern = re.compile(r"^(\d+): (\d+) of \d+ values far outside .* and (\d+) just outside")
    for (row, column), f in ours_by_code.get("out-of-range", {}).items():
        m = pattern.match(f["message"])
        if not m:
            problems.append(f"cannot read holdfast's out-of-range message: {f['message']}")
            continue
        found[(column, int(m[1]))] = (f["ameriflux"]["level"], int(m[2]), int(m[3]), row)
    total_found = len(found) + suppressed["out-of-range"]
    if suppressed["out-of-range"]:
        same = len(expected) == total_found and all(expected.get(k) == v for k, v in found.items())
    else:
        same = expected == found
    lines.append(
        f"  {'values outside [Min, Max]':<34} holdfast {'-':>6}   frictionless "
        f"{sum(per_column.values()):>6}   (per value; holdfast reports per column and year)"
    )
    lines.append(
        f"  {'out-of-range (column, year)':<34} holdfast {total_found:>6}   from frictionless "
        f"{len(expected):>3}   {'same' if same else 'DIFFERENT'} (level, counts and first row)"
    )
    if not same:
        problems.append(
            "out-of-range: holdfast "
            + json.dumps(sorted(map(list, found.items())))
            + " but frictionless's errors give "
            + json.dumps(sorted(map(list, expected.items())))
        )
    for (column, year), (level, hard, soft, first) in sorted(expected.items()):
        lines.append(
            f"    {column} {year}: {level}, {hard} far and {soft} just outside, first at row {first}"
        )

    compared = {"type-error", "missing-value-code", "timestamp-format", "out-of-range"}
    only = collections.Counter()
    for code, items in ours_by_code.items():
        if code not in compared:
            only[code] += len(items)
    for code, n in suppressed.items():
        if code not in compared:
            only[code] += n
    shared = sum(1 for label in labels)
    print(f"findings on the {shared} shared columns:")
    print("\n".join(lines))
    if only:
        print(
            "  holdfast only (no Table Schema counterpart): "
            + ", ".join(f"{code} {n}" for code, n in sorted(only.items()))
        )
    if problems:
        print("findings DISAGREE:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print("findings agree on the shared columns")
    return 0


def timed(out_path, command):
    import resource
    import subprocess
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(out_path, "wb") as out:
        code = subprocess.call(command, stdout=out)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{wall:.6f} {cpu:.6f} {code}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "time":
        if args[1] != "--":
            sys.exit("usage: bench_validate.py time OUT -- COMMAND...")
        timed(args[0], args[2:])
    elif command == "schema":
        make_schema(*args)
    elif command == "compare":
        sys.exit(compare(*args))
    else:
        sys.exit(f"unknown command {command}")
