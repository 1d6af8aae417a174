#!/usr/bin/env python3
"""Writes schemas/ameriflux-base.json from the published AmeriFlux FP-Standard limits.

Run once when the limits change:
  python3 scripts/gen_ameriflux_schema.py tests/data/ameriflux/amf_fp_var_limits_20230223.json
The result is committed; holdfast reads the JSON at run time and never runs this script.
"""
import json
import sys

limits = json.load(open(sys.argv[1], encoding="utf-8"))
# The R reference config suppresses soft-flag warnings for radiation/snow and % variables.
soft_suppressed = {
    "SW_IN", "SW_OUT", "SW_BC_IN", "SW_BC_OUT", "PPFD_IN", "PPFD_OUT", "PPFD_BC_IN",
    "PPFD_BC_OUT", "SW_DIF", "SW_DIR", "PPFD_DIF", "PPFD_DIR", "D_SNOW", "PPFD_UW_IN",
}
# On the current FP-Standard list (and accepted by the 2024 format QA/QC that produced the
# conformance results) but missing from the 2023-02-23 snapshot; no published limits.
for name, group, units in [("FH2O", "GASES", "mmolH2O m-2 s-1")]:
    if not any(v["Name"] == name for v in limits):
        limits.append({"Name": name, "Type": group, "Units": units, "Min": None, "Max": None})
variables = []
for v in sorted(limits, key=lambda v: v["Name"]):
    entry = {"name": v["Name"], "group": v["Type"], "units": v["Units"]}
    if v["Min"] is not None:
        entry["min"] = v["Min"]
    if v["Max"] is not None:
        entry["max"] = v["Max"]
    if v["Name"] in soft_suppressed or v["Units"] == "%":
        entry["softFlagWarning"] = False
    variables.append(entry)

standard = {
    "name": "ameriflux-base",
    "title": "AmeriFlux FP-In (BASE-In) half-hourly/hourly upload file",
    "version": "format QA/QC 2.3.6; FP-Standard limits 2023-02-23",
    "source": "AMF-FLX/AMF-BASE-QAQC processing/upload_checks.py; amf_fp_var_limits_20230223.json",
    "appliesTo": ["*_HH_*.csv", "*_HR_*.csv"],
    "dialect": {"delimiter": ",", "quoteChar": None, "header": True},
    "schema": {"fields": [], "missingValues": ["-9999"]},
    "ameriflux": {
        "missingValue": "-9999",
        "siteIds": ["US-UMB", "US-UMd", "US-CRT", "US-Ha1", "US-MMS", "US-Ne1", "US-Ton", "US-Var"],
        "siteIdPattern": "^[A-Z]{2}-[A-Za-z0-9]{3}$",
        "resolutions": {"HH": 30, "HR": 60},
        "timestampStart": "TIMESTAMP_START",
        "timestampEnd": "TIMESTAMP_END",
        "primaryFluxes": ["FC", "FCH4", "LE", "H"],
        "range": {"margin": 0.05, "hardShare": 0.001, "softShare": 0.01},
        "variables": variables,
    },
}
with open("schemas/ameriflux-base.json", "w", encoding="utf-8") as out:
    json.dump(standard, out, indent=1, ensure_ascii=False)
    out.write("\n")
