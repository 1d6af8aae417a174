#!/usr/bin/env python3
"""Writes a flux-tower-like AmeriFlux FP-In CSV for benchmarking `holdfast validate`.

  python3 scripts/gen_flux_csv.py OUT_DIR [YEARS]
Half-hourly rows from 2000-01-01, 60 columns of FP-Standard variables with -9999 gaps and
injected errors, every year alike: scattered cells that are NaN (an invalid missing-value
code), "N/A" (not a number) or ten times the usual maximum (mostly outside the physical
range); two sensor faults (a day of LE_1_2_1 far above its range, four days of TA_1_3_1
just above it, enough for AmeriFlux's yearly range shares); and one timestamp gap.
Prints the path.
"""
import datetime
import os
import random
import sys

out_dir = sys.argv[1]
years = int(sys.argv[2]) if len(sys.argv) > 2 else 20
base = ["TA", "RH", "PA", "WS", "WD", "USTAR", "FC", "LE", "H", "G", "SW_IN", "SW_OUT",
        "LW_IN", "LW_OUT", "NETRAD", "PPFD_IN", "CO2", "H2O", "TS", "SWC"]
cols = [f"{b}_1_{v}_1" for v in (1, 2, 3) for b in base]  # 60 variables
ranges = {"TA": (-10, 30), "RH": (20, 100), "PA": (95, 101), "WS": (0, 10), "WD": (0, 360),
          "USTAR": (0, 1.5), "FC": (-20, 10), "LE": (-50, 400), "H": (-100, 500),
          "G": (-50, 100), "SW_IN": (0, 1000), "SW_OUT": (0, 200), "LW_IN": (200, 450),
          "LW_OUT": (250, 500), "NETRAD": (-100, 800), "PPFD_IN": (0, 2000),
          "CO2": (350, 450), "H2O": (2, 25), "TS": (-5, 25), "SWC": (5, 45)}
rnd = random.Random(42)
start = datetime.datetime(2000, 1, 1)
rows = years * 365 * 48
per_year = 365 * 48
# Sensor faults, by row within each year: (column, first row, rows, value).
faults = {"LE_1_2_1": (1000, 48, "1000.000"),  # LE max 900 + 5% band: far outside
          "TA_1_3_1": (5000, 192, "52.000")}  # TA max 50, within the 5% band: just outside
step = datetime.timedelta(minutes=30)
end = start + step * (rows + 2)  # rows + 1 rows, plus the injected gap
name = f"US-UMB_HH_{start:%Y%m%d%H%M}_{end:%Y%m%d%H%M}.csv"
path = os.path.join(out_dir, name)
with open(path, "w") as f:
    f.write("TIMESTAMP_START,TIMESTAMP_END," + ",".join(cols) + "\n")
    t = start
    for i in range(rows + 1):
        if i == rows // 2:
            t += step  # one injected timestamp gap
        vals = []
        for c in cols:
            lo, hi = ranges[c.split("_1_")[0]]
            r = rnd.random()
            fault = faults.get(c)
            if fault and fault[0] <= i % per_year < fault[0] + fault[1]:
                vals.append(fault[2])
            elif r < 0.05:
                vals.append("-9999")
            elif r < 0.05001:
                vals.append("NaN")
            elif r < 0.05002:
                vals.append("N/A")
            elif r < 0.0501:
                vals.append(f"{hi * 10:.3f}")
            else:
                vals.append(f"{lo + (hi - lo) * rnd.random():.3f}")
        f.write(f"{t:%Y%m%d%H%M},{t + step:%Y%m%d%H%M}," + ",".join(vals) + "\n")
        t += step
print(path)
