"""Real processes: names found at collection time never write into monitor's own families.

A monitor scraping another one got `monitor_source_up{exported_source="rz",source="scrape"} 0.0`
on its /metrics, which the rule `monitor rules` writes for a `condition: down` alert on the
scraping source (`monitor_source_up{source="scrape"} == 0`) matched: Prometheus fired an alert
monitor called inactive. A dynamic plugin returning `monitor_source_up` wrote a second series
into monitor's own family, and one returning an untyped `process_cpu_seconds_total` made
monitor's own counter untyped. Such names are published as `exported_NAME`; `process_*` and
`python_*` of monitor's own types are kept, as scraped services expose them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from exporter_support import get, headless
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from test_exporter_headless import wait_all_up

from monitor.config import ConfigError, parse_config
from monitor.exporter.render import EXPORT_FAILED
from monitor.registry import Registry
from tests.conftest import free_port, require_binary

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def lint(body: bytes) -> tuple[int, str]:
    result = subprocess.run([require_binary("promtool"), "check", "metrics"], input=body, capture_output=True)
    return result.returncode, result.stderr.decode()


def scrape(port: int, accept: str | None = None) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Accept": accept or "*/*"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read()


def wait_for(port: int, text: str, deadline: float = 15.0) -> bytes:
    end = time.monotonic() + deadline
    body = b""
    while time.monotonic() < end:
        body = scrape(port)
        if text.encode() in body:
            return body
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared on :{port}/metrics; last body:\n{body.decode()}")


def selected(text: str, rule: str) -> list[tuple[dict[str, str], float]]:
    """The series a rule's `name{l="v",...} == 0` selects on a /metrics page, with their values."""
    match = re.fullmatch(r"(\w+)\{(.*)\} == 0", rule)
    assert match, rule
    name, matchers = match.groups()
    wanted = dict(re.findall(r'(\w+)="([^"]*)"', matchers))
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and wanted.items() <= sample.labels.items()
    ]


@pytest.mark.needs_prometheus
def test_a_monitor_scraping_a_monitor_exports_its_health_under_exported_names(
    tmp_path: Path, closed_port: int
) -> None:
    """Repro B, with two real `monitor --headless` on 127.0.0.1."""
    first, second = free_port(), free_port()
    a_config = tmp_path / "a.yaml"
    a_config.write_text(
        "interval: 1s\nsources:\n"
        f"  - {{name: rz, collector: prometheus, url: 'http://127.0.0.1:{closed_port}/metrics'}}\n"
    )
    b_config = tmp_path / "b.yaml"
    b_config.write_text(
        "interval: 1s\nsources:\n"
        f"  - {{name: scrape, collector: prometheus, url: 'http://127.0.0.1:{first}/metrics'}}\n"
        "alerts:\n  - {name: ScrapeDown, source: scrape, condition: down}\n"
    )
    rules = subprocess.run(
        [sys.executable, "-m", "monitor", "rules", "-c", str(b_config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rules.returncode == 0, rules.stderr
    [expr] = re.findall(r"expr: (.*)", rules.stdout)
    assert expr == 'monitor_source_up{source="scrape"} == 0'
    with headless(a_config, first), headless(b_config, second):
        wait_all_up(second)
        body = wait_for(second, 'exported_monitor_source_up{exported_source="rz",source="scrape"} 0.0')
        openmetrics = scrape(second, OPENMETRICS)
    text = body.decode()
    # The rule matches B's own series of its source only, which says up: inactive, as monitor says.
    assert selected(text, expr) == [({"source": "scrape"}, 1.0)]
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert [s.labels for s in families["monitor_source_up"].samples] == [{"source": "scrape"}]
    assert [s.labels for s in families["monitor_build_info"].samples if "source" in s.labels] == []
    assert "exported_monitor_build_info" in families
    # A's process and Python metrics are kept under their names, in B's own (typed) families.
    assert families["process_cpu_seconds"].type == "counter"
    assert {s.labels.get("source") for s in families["process_cpu_seconds"].samples} == {None, "scrape"}
    assert families["python_info"].type == "gauge"
    assert {s.labels.get("source") for s in families["python_gc_objects_collected"].samples} == {
        None,
        "scrape",
    }
    assert text.count("# TYPE process_cpu_seconds_total ") == 1
    assert EXPORT_FAILED not in text
    assert lint(body) == (0, "")
    om_families = {family.name: family for family in parse_openmetrics(openmetrics.decode())}
    assert om_families["process_cpu_seconds"].type == "counter"
    assert om_families["exported_monitor_source_up"].type == "gauge"


PLUGIN = '''
from monitor.model import MetricSpec, MetricType, Sample
from monitor.plugin import Collector, CollectorOptions


class Collector(Collector[CollectorOptions]):
    """Repro A and the UTF-8 repro: names monitor and Prometheus write, a file name that is
    not UTF-8 as os.listdir() returns it, and a plain value."""

    name = "reserved"
    dynamic_metrics = True

    def collect(self, ctx):
        ctx.declare(MetricSpec("monitor_source_up", "Mine."))
        ctx.declare(MetricSpec("up", "Mine."))
        ctx.declare(MetricSpec("process_cpu_seconds_total", "Mine."))
        return [
            Sample("monitor_source_up", 0),
            Sample("up", 1),
            Sample("process_cpu_seconds_total", 5),
            Sample("bad_labeled", 1, {"k": "caf\\udce9"}),
            Sample("bad_value", 2),
        ]
'''


def install_plugin(site: Path) -> dict[str, str]:
    """Install, as pip would (a dist-info with entry_points.txt), the plugin `reserved`."""
    info = site / "reserved-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: reserved\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[monitor.collectors]\nreserved = reserved_mod:Collector\n")
    (site / "reserved_mod.py").write_text(PLUGIN)
    return {"PYTHONPATH": str(site)}


@pytest.mark.needs_prometheus
def test_a_dynamic_plugins_reserved_names_and_undecodable_labels_on_a_real_headless_monitor(
    tmp_path: Path,
) -> None:
    """Repro A: `monitor_source_up{source="ds"} 1.0` then `...{source="ds"} 0.0` (a series twice)
    and an untyped process_cpu_seconds_total; and the UTF-8 repro: no series of the source on
    /metrics at all, only an ERROR traceback in the log at each re-encoding."""
    config = tmp_path / "config.yaml"
    config.write_text("interval: 1s\nsources:\n  - {name: ds, collector: reserved}\n")
    port = free_port()
    log = tmp_path / "monitor.log"
    with (
        log.open("w") as stderr,
        headless(config, port, env=install_plugin(tmp_path / "site"), stderr=stderr),
    ):
        wait_all_up(port)
        time.sleep(1.5)  # a second collection, re-encoded
        body = scrape(port)
        api = json.loads(get(f"http://127.0.0.1:{port}/api/v1/snapshot")[1])["sources"]["ds"]
    text = body.decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert [(s.labels, s.value) for s in families["monitor_source_up"].samples] == [({"source": "ds"}, 1.0)]
    assert families["exported_monitor_source_up"].samples[0].labels == {"source": "ds"}
    assert families["exported_up"].samples[0].value == 1.0
    assert families["process_cpu_seconds"].type == "counter"
    assert [s.labels for s in families["process_cpu_seconds"].samples] == [{}]  # monitor's own only
    assert "exported_process_cpu_seconds_total" in families
    assert 'bad_value{source="ds"} 2.0\n' in text and "bad_labeled" not in text
    assert EXPORT_FAILED not in text
    assert lint(body) == (0, "")
    assert sorted(series["name"] for series in api["series"]) == [
        "bad_value",
        "exported_monitor_source_up",
        "exported_process_cpu_seconds_total",
        "exported_up",
    ]
    assert any(
        error.startswith("bad_labeled{k=\"caf\\xe9\"}: the value of label 'k' is not valid UTF-8")
        for error in api["partial_errors"]
    )
    logged = log.read_text()
    assert "Traceback" not in logged and "cannot encode" not in logged
    assert logged.count("its series are published as exported_monitor_source_up") == 1


@pytest.mark.parametrize(
    ("metric", "published"),
    [
        ("up", "exported_up"),
        ("monitor_jobs", "exported_monitor_jobs"),
        ("process_open_fds", "exported_process_open_fds"),
    ],
)
def test_a_commands_metric_naming_what_would_be_renamed_is_a_config_error(
    metric: str, published: str
) -> None:
    """A name the config chooses is refused where it is written (as in a collector's
    `metrics`), rather than shown and exported under another name than the config's."""
    config = f"sources:\n  - {{name: q, collector: command, argv: [echo, '1'], metric: {metric}}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(config, "config.yaml", registry=Registry.discover())
    assert (
        f"sources[0].metric: {metric!r} is a name monitor or Prometheus writes itself (the number would be "
        in str(caught.value)
    )
    assert f"published as {published})" in str(caught.value)
    mine = config.replace(metric, "process_count")  # writes into no family of monitor's: still valid
    assert (
        parse_config(mine, "config.yaml", registry=Registry.discover()).sources[0].options.metric
        == "process_count"
    )
