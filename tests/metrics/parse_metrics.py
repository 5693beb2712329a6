"""Reads Prometheus' text format on stdin with the official Python client's parser and prints
every sample as JSON: [{"name", "labels", "value"}, ...]. A text the parser rejects fails."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = [
    {"name": s.name, "labels": s.labels, "value": s.value, "type": family.type}
    for family in text_string_to_metric_families(sys.stdin.read())
    for s in family.samples
]
json.dump(samples, sys.stdout)
