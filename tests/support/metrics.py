"""Reading `GET /metrics` as a scraper does: the figures of one scrape, and what moved."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families


class Figures:
    """The samples of one scrape, summed over the labels a question leaves out."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        return sum(
            value
            for sample_name, sample_labels, value in self.samples
            if sample_name == name and _within(labels, sample_labels)
        )

    def label_values(self, name: str, label: str) -> set[str]:
        return {s_labels[label] for s_name, s_labels, _ in self.samples if s_name == name}

    def moved(self, before: Figures, name: str, **labels: str) -> float:
        """How much `name` (with `labels`) grew since `before`."""
        return self.value(name, **labels) - before.value(name, **labels)


def _within(wanted: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in wanted.items())
