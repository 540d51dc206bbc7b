"""What ``sluice import`` tells its user: what it converted, what it did not and why, the variables to set."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Report"]


@dataclass
class Report:
    converted: list[str] = field(default_factory=list)
    not_converted: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    env_vars: dict[str, str] = field(default_factory=dict)  # variable -> why it is needed
    notes: list[str] = field(default_factory=list)

    def skip(self, what: str, why: str) -> None:
        self.not_converted.append((what, why))

    def need(self, name: str, why: str) -> None:
        """A variable to set, and why; a variable needed for several reasons lists each once."""
        known = self.env_vars.get(name)
        if known is None:
            self.env_vars[name] = why
        elif why not in known:
            self.env_vars[name] = f"{known}; also {why}"

    def lines(self) -> list[str]:
        out = [f"converted ({len(self.converted)}):"] + [f"  {item}" for item in self.converted]
        if self.not_converted:
            out.append(f"not converted ({len(self.not_converted)}):")
            out += [f"  {what}: {why}" for what, why in self.not_converted]
        if self.env_vars:
            out.append(f"environment variables to set before `sluice run` ({len(self.env_vars)}):")
            width = max(len(name) for name in self.env_vars)
            out += [f"  {name.ljust(width)}  {why}" for name, why in sorted(self.env_vars.items())]
        if self.notes:
            out.append("notes:")
            out += [f"  {note}" for note in self.notes]
        return out
