"""What a ladder label means, and whether an observed flow follows a ladder.

Rules (DESIGN.md, "The ladder as data"):
- per leg (pair of columns) the observed SIP messages follow the ladder's order, step by step;
  retransmissions are shown but never counted;
- across legs only causality: a relayed message (the same request/response/RTP on the next leg in the same
  direction of travel) comes after the message it relays. Hop-by-hop messages are not relayed: 100 Trying
  (a B2BUA may answer it before the destination does), ACK (per leg), responses to BYE/CANCEL (each leg
  answers its own) and 487 (the B2BUA ends the A leg's INVITE itself when cancelled);
- a ladder with an elided prefix (`====`) lets each leg start anywhere: messages before the first match
  of the leg's first step are skipped;
- after the documented flow a leg may carry more messages (scenarios stop early) unless
  `allow_trailing=False`;
- RTP steps match when at least one RTP packet went src->dst after the previous SIP step on that leg and
  before the leg's next SIP message (early media drawn after a 183 must flow before the 200 OK); RTP never
  breaks the SIP order of a leg;
- reason phrases are shown, not matched: a different phrase is a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from harness.ladder.diagram import Ladder, LadderParseError, Step, parse_ladder
from harness.ladder.labels import Matcher, ObservedStep, classify_label


def relay_pairs(ladder: Ladder) -> list[tuple[int, int]]:
    """(original, relayed) step indexes: the relayed step leaves the column the original reached, keeps the
    direction of travel and carries the same message. Hop-by-hop messages are never paired."""
    steps = ladder.steps
    matchers = [classify_label(s.label) for s in steps]
    txn = _transaction_methods(steps, matchers)
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for j, (s2, m2) in enumerate(zip(steps, matchers, strict=True)):
        if not _relayable(m2, txn.get(j)):
            continue
        candidates = [
            i
            for i, (s1, m1) in enumerate(zip(steps, matchers, strict=True))
            if i not in used
            and (i < j or (i != j and s1.line_no == s2.line_no != 0))
            and s1.dst == s2.src
            and s1.src != s2.dst
            and m1.same_message(m2)
        ]
        if candidates:
            best = max(candidates, key=lambda i: (steps[i].line_no, i))
            pairs.append((best, j))
            used.add(best)
    return pairs


def _transaction_methods(steps: Sequence[Step], matchers: Sequence[Matcher]) -> dict[int, str]:
    """For each response step: the method of the latest earlier non-ACK request on its leg sent the other way."""
    out: dict[int, str] = {}
    for j, (step, m) in enumerate(zip(steps, matchers, strict=True)):
        if m.kind != "response":
            continue
        for i in range(j - 1, -1, -1):
            prev, pm = steps[i], matchers[i]
            if pm.kind == "request" and pm.method != "ACK" and (prev.src, prev.dst) == (step.dst, step.src):
                out[j] = pm.method or ""
                break
    return out


def _relayable(m: Matcher, txn_method: str | None) -> bool:
    if m.kind == "rtp":
        return True
    if m.kind == "request":
        return m.method != "ACK"
    assert m.status is not None
    return m.status > 100 and m.status != 487 and txn_method in (None, "INVITE")


@dataclass
class Comparison:
    ok: bool
    divergence: str | None = None  # the first divergence: which step, what was expected, what was seen
    notes: list[str] = field(default_factory=list)
    expected_step_index: int | None = None  # index into expected.steps of the divergent step
    observed_index: int | None = None  # index into the observed list of the divergent message

    def side_by_side(self, expected_text: str, observed_text: str) -> str:
        """Both ladders next to each other, `>>` marking the divergent line on each side."""
        left, right = expected_text.rstrip("\n").splitlines(), observed_text.rstrip("\n").splitlines()
        lmark = _line_of(expected_text, self.expected_step_index)
        rmark = _line_of(observed_text, self.observed_index)
        if self.divergence is not None and self.observed_index is None:
            right.append("(no matching message observed)")
            rmark = len(right) - 1
        width = max([len(line) for line in left] + [len("expected")])
        rows = [f"   {'expected'.ljust(width)}      observed"]
        for k in range(max(len(left), len(right))):
            lt = left[k] if k < len(left) else ""
            rt = right[k] if k < len(right) else ""
            rows.append(
                f"{'>>' if k == lmark else '  '} {lt.ljust(width)}   {'>>' if k == rmark else '  '} {rt}".rstrip()
            )
        if self.divergence:
            rows += ["", f"divergence: {self.divergence}"]
        rows += [f"note: {note}" for note in self.notes]
        return "\n".join(rows) + "\n"


def _line_of(text: str, step_index: int | None) -> int | None:
    if step_index is None:
        return None
    try:
        steps = parse_ladder(text).steps
    except LadderParseError:
        return None
    return steps[step_index].line_no - 1 if step_index < len(steps) else None


def _describe_obs(obs: ObservedStep) -> str:
    return f"{obs.label} {obs.src} -> {obs.dst} (frame {obs.frame_no})"


def _describe_step(ladder: Ladder, index: int) -> str:
    step = ladder.steps[index]
    return f"step {index + 1} (line {step.line_no}: {step.src} -> {step.dst} '{step.label}')"


def compare(
    expected: Ladder,
    observed: Sequence[ObservedStep],
    *,
    allow_trailing: bool = True,
    roles: Mapping[str, str] | None = None,
) -> Comparison:
    """Check `observed` (in capture order) against `expected`. `roles` maps observed role names to ladder
    column names where they differ (e.g. {"TRUNK": "VoIPBin"})."""
    if roles:
        observed = [replace(o, src=roles.get(o.src, o.src), dst=roles.get(o.dst, o.dst)) for o in observed]
    obs = list(observed)
    matchers = [classify_label(s.label) for s in expected.steps]
    columns = set(expected.columns)
    notes: list[str] = []
    divergences: list[tuple[tuple[int, int], str, int | None, int | None]] = []

    ends = [_end_index(obs, i) for i in range(len(obs))]
    outside = [o for o in obs if o.src not in columns or o.dst not in columns]
    if outside:
        notes.append(
            f"{len(outside)} observed message(s) between roles not in the ladder were ignored "
            f"(first: {_describe_obs(outside[0])})"
        )
    retransmissions = sum(1 for o in obs if o.is_retransmission)
    if retransmissions:
        notes.append(f"{retransmissions} retransmission(s) shown but not counted")

    matched: dict[int, int] = {}
    rtp_candidates: dict[int, list[int]] = {}
    legs = expected.legs()
    for o in obs:  # legs the ladder does not draw, in order of appearance
        leg = frozenset((o.src, o.dst))
        if o.src in columns and o.dst in columns and leg not in legs:
            legs.append(leg)
    for leg in legs:
        step_idxs = [i for i, s in enumerate(expected.steps) if frozenset((s.src, s.dst)) == leg]
        sip = [
            i
            for i, o in enumerate(obs)
            if o.kind != "rtp" and not o.is_retransmission and frozenset((o.src, o.dst)) == leg
        ]
        cursor, last_pos, first = 0, -1, True
        leg_name = "<->".join(c for c in expected.columns if c in leg)
        for si in step_idxs:
            step, m = expected.steps[si], matchers[si]
            where = _describe_step(expected, si)
            if m.kind == "rtp":
                # drawn before whatever follows on its leg: the media must start before the leg's next SIP
                # message (an RTP step opening an elided leg has no such bound)
                bounded = cursor < len(sip) and not (first and expected.elided_prefix)
                next_pos = sip[cursor] if bounded else len(obs)
                cands = [
                    i
                    for i, o in enumerate(obs)
                    if o.kind == "rtp"
                    and (o.src, o.dst) == (step.src, step.dst)
                    and ends[i] > last_pos
                    and i < next_pos
                ]
                if not cands:
                    after = f" after frame {obs[last_pos].frame_no}" if last_pos >= 0 else ""
                    before = f" and before {_describe_obs(obs[next_pos])}" if bounded else ""
                    divergences.append(
                        (
                            (len(obs), step.line_no),
                            f"{where}: expected RTP packets {step.src} -> {step.dst}{after}{before}, saw none",
                            si,
                            None,
                        )
                    )
                    break
                matched[si], rtp_candidates[si] = cands[0], cands
                first = False
                continue
            if first and expected.elided_prefix:
                while cursor < len(sip) and not m.matches(obs[sip[cursor]]):
                    cursor += 1
            first = False
            if cursor >= len(sip):
                divergences.append(
                    (
                        (len(obs), step.line_no),
                        f"{where}: expected {m.describe()} {step.src} -> {step.dst}, but nothing "
                        f"further was observed on leg {leg_name}",
                        si,
                        None,
                    )
                )
                break
            oi = sip[cursor]
            o = obs[oi]
            if not m.matches(o) or (o.src, o.dst) != (step.src, step.dst):
                divergences.append(
                    (
                        (oi, step.line_no),
                        f"{where}: expected {m.describe()} {step.src} -> {step.dst}, "
                        f"observed {_describe_obs(o)}",
                        si,
                        oi,
                    )
                )
                break
            if m.kind == "response" and m.reason and o.reason and m.reason.lower() != o.reason.lower():
                notes.append(
                    f"line {step.line_no}: the spec says '{step.label}', observed '{o.status} {o.reason}' "
                    f"(frame {o.frame_no}); reason phrases are not compared"
                )
            matched[si], last_pos = oi, oi
            cursor += 1
        else:
            trailing = sip[cursor:]
            if trailing:
                text = (
                    f"leg {leg_name}: {len(trailing)} message(s) after the documented flow, "
                    f"first {_describe_obs(obs[trailing[0]])}"
                )
                if allow_trailing:
                    notes.append(text)
                else:
                    divergences.append(((trailing[0], 1 << 30), text, None, trailing[0]))

    for orig, relayed in relay_pairs(expected):
        if orig not in matched or relayed not in matched:
            continue
        orig_pos = matched[orig]
        if relayed in rtp_candidates:
            good = any(ends[c] > orig_pos for c in rtp_candidates[relayed])
        else:
            good = matched[relayed] > orig_pos
        if not good:
            o2, o1 = obs[matched[relayed]], obs[orig_pos]
            divergences.append(
                (
                    (matched[relayed], expected.steps[relayed].line_no),
                    f"{_describe_step(expected, relayed)}: observed {_describe_obs(o2)} before the "
                    f"message it relays, {_describe_step(expected, orig)} = {_describe_obs(o1)}",
                    relayed,
                    matched[relayed],
                )
            )

    if not divergences:
        return Comparison(ok=True, notes=notes)
    _, text, step_index, obs_index = min(divergences, key=lambda d: d[0])
    return Comparison(
        ok=False, divergence=text, notes=notes, expected_step_index=step_index, observed_index=obs_index
    )


def _end_index(obs: Sequence[ObservedStep], i: int) -> int:
    """Position of the last packet of an RTP burst, as an index into `obs` (by frame number)."""
    last = obs[i].last_frame_no
    if last is None or last <= obs[i].frame_no:
        return i
    end = i
    for k in range(i + 1, len(obs)):
        if obs[k].frame_no <= last:
            end = k
    return end
