"""wpqa benchmarks: `python -m bench.run` runs everything and writes bench/REPORT.md."""
