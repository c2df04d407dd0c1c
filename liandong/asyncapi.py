"""The AsyncAPI 3.0 description of the bus, for departments whose systems are not written in Python.

It is generated from the topic catalogue (``all_topics()``, ``EVENT_TYPES``) and the schema files,
so it cannot drift from what the bus does: ``liandong asyncapi`` writes ``docs/asyncapi.yaml`` and a
test checks that the committed copy is current. Payloads refer to the ``.avsc`` files relative to
``docs/``. The document is written from a department system's point of view: a unit receives its
inbox and sends on its replies topic; bureau and dead-letter topics are listed without operations.
"""

from __future__ import annotations

import json
from importlib.metadata import metadata
from pathlib import Path
from typing import Any

import yaml
from liandong_sdk import (
    ANSWER_HEADERS,
    BUS_UNITS,
    CE_SPECVERSION,
    CONTENT_TYPE,
    DEAD_LETTER,
    ERROR_HEADER,
    EVENT_TYPES,
    REASON_HEADER,
    SIGNATURE_HEADER,
    SIGNER_HEADER,
    SOURCE_HEADER,
    UNIT_INBOX,
    UNIT_REPLIES,
    EventType,
    TopicSpec,
    all_topics,
    topic_matches,
)

from ._settings import ROOT, Settings

ASYNCAPI_VERSION = "3.0.0"
AVRO_FORMAT = "application/vnd.apache.avro;version=1.9.0"
KAFKA_BINDING_VERSION = "0.5.0"
SCHEMAS_REF = "../schemas"
PII_TAG = "personal-data"
SERVER = "local"
_DEPARTMENT_OPERATIONS = (("receive", UNIT_INBOX, "receives its inbox"), ("send", UNIT_REPLIES, "answers on its replies topic"))

_DESCRIPTION = """\
Liandong (联动) is the coordination bus between petition bureaus (信访局) and the departments
they work with. This document is generated from the topic catalogue by `liandong asyncapi`;
do not edit it by hand.

It is written from a department system's point of view: a unit receives on its inbox,
`{inbox}`, and answers on its replies topic, `{replies}`.
The other topics are listed for completeness; department systems neither read nor write them.

The bus is the referee of every answer, whatever client wrote it: the record's `unit` must be
the unit of the replies topic; the case must have been handed to that unit; the step must be
one the unit's handoff allows; an objection must lie within the `objection_due_at` the handoff
carries; extensions total at most 30 days; the answer's fields must be complete; `occurred_at`
must not be before the handoff nor ahead of the bus's clock. A refused answer changes nothing;
the unit receives `answer.refused` on its inbox (`refused_event_id`, `refused_type`, `reason`).
An accepted one is published again, same `ce_id`, on `liandong.bureau.answers` with the
`deadline` that applies after it. Every due date is 24:00 Beijing time of its last day
(Civil Code Art. 201, 203), carried as `23:59:59.999+08:00`.

Wire format of every message:

- **value**: Avro single-object encoding: the two bytes `0xC3 0x01`, the 8-byte little-endian
  CRC-64-AVRO fingerprint of the writer schema's parsing canonical form, then the Avro binary
  body. Readers find the writer schema by fingerprint and resolve it to their reader schema.
  Payload schemas are the files in `schemas/`; the named types they use (`liandong.types.*`)
  are defined in files of their own in the same folder.
- **key**: UTF-8; the case number for case events, so every case is ordered on one partition.
- **headers**: the CloudEvents Kafka protocol binding in binary mode (`ce_specversion`, `ce_id`,
  `ce_source`, `ce_type`, `ce_time`, `ce_subject`, `content-type: {content_type}`), and the
  publisher's signature:
  - `ld_signer`: the publishing principal (`unit-<unit>` for a unit), UTF-8;
  - `ld_signature`: base64 (RFC 4648, padded) of the 64-byte Ed25519 signature, by the principal's
    key, of the UTF-8 text of six lines joined by `\\n`: `liandong-signature-v1`, `ce_id`,
    `ce_type`, `ce_time` (the header values, exactly as sent), the message key, and the lowercase
    hex SHA-256 of the message value.

  A reader accepts a message only when its signer is in the principals directory, may write the
  topic (a unit's replies topic: that unit alone) and the signature verifies with the signer's
  public key. A unit's answer that fails is refused on its inbox (`answer.refused`, saying why);
  any other message goes to the dead-letter topic. On `liandong.bureau.answers`, the referee's
  checked copy (signed by `svc-triage`) also carries the unit's own signature of the answer as
  sent: `ld_answer_signer`, `ld_answer_signature`, `ld_answer_time` (its `ce_time`),
  `ld_answer_sha256` (its value's SHA-256) and `ld_answer_topic` (the replies topic).

Personal data appears only on bureau-only topics and on a unit's own inbox (and in dead letters,
which keep failed messages whole for operators). The channels that carry it are tagged
`{pii_tag}`:

{pii_topics}
"""


def build_asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document as plain data, in a fixed order."""
    topics = all_topics()
    channels = {_channel_id(spec.name): _channel(spec) for spec in topics}
    operations: dict[str, Any] = {}
    for unit, slug in BUS_UNITS.items():  # the handling units' systems and the reviewing bodies'
        for action, template, verb in _DEPARTMENT_OPERATIONS:
            channel_id = _channel_id(template.format(unit=slug))
            operations[action + _capitalised(channel_id)] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{unit}'s system {verb}.",
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in channels[channel_id]["messages"]],
            }
    meta = metadata("liandong")
    info: dict[str, Any] = {
        "title": "Liandong",
        "version": meta["Version"],
        "description": _DESCRIPTION.format(
            inbox=UNIT_INBOX, replies=UNIT_REPLIES, content_type=CONTENT_TYPE, pii_tag=PII_TAG,
            pii_topics="\n".join(f"- `{spec.name}`" for spec in topics if spec.pii),
        ),
    }
    if "License" in meta:
        info["license"] = {"name": meta["License"]}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": info,
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            SERVER: {
                "host": f"127.0.0.1:{Settings.model_fields['broker_port'].default}",
                "protocol": "kafka",
                "description": "The local single-node broker of `liandong broker start` (KRaft, 127.0.0.1 only). "
                               "Set LIANDONG_BOOTSTRAP_SERVERS to use another cluster.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": {et.name: _message(et) for et in EVENT_TYPES.values()}},
    }


def render_asyncapi() -> str:
    """The document as YAML text; the same catalogue always gives the same bytes."""
    return yaml.dump(build_asyncapi(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def write_asyncapi(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_asyncapi(), encoding="utf-8")
    return path


def _channel(spec: TopicSpec) -> dict[str, Any]:
    channel: dict[str, Any] = {"address": spec.name, "description": spec.doc}
    if spec.pii:
        channel["tags"] = [{"name": PII_TAG}]
    channel["messages"] = {
        et.name: {"$ref": f"#/components/messages/{et.name}"} for et in EVENT_TYPES.values() if topic_matches(et.topic, spec.name)
    }
    channel["bindings"] = {
        "kafka": {
            "topic": spec.name,
            "partitions": spec.partitions or Settings.model_fields["topic_partitions"].default,
            "topicConfiguration": {name: _topic_config_value(name, value) for name, value in spec.config().items()},
            "bindingVersion": KAFKA_BINDING_VERSION,
        },
    }
    return channel


def _message(et: EventType) -> dict[str, Any]:
    short_name = et.schema.rpartition(".")[2]
    return {
        "name": short_name,
        "title": et.name,
        "summary": _schema_doc(et.schema),
        "headers": _headers(et),
        "payload": {"schemaFormat": AVRO_FORMAT, "schema": {"$ref": f"{SCHEMAS_REF}/{et.schema}.avsc"}},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"The record's `{et.key_field}`, UTF-8."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            },
        },
    }


def _headers(et: EventType) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "ce_specversion": {"type": "string", "const": CE_SPECVERSION, "description": "CloudEvents specification version."},
        "ce_id": {"type": "string", "description": "Event id: the record's `event_id` (a UUID)."},
        "ce_source": {"type": "string", "format": "uri-reference", "description": "The producing service, `/liandong/<service>`."},
        "ce_type": {"type": "string", "const": et.ce_type},
        "ce_time": {"type": "string", "format": "date-time", "description": "When it happened, RFC 3339 in UTC, milliseconds."},
        "ce_subject": {"type": "string", "description": f"The message key: the record's `{et.key_field}`."},
        "content-type": {"type": "string", "const": CONTENT_TYPE},
    }
    properties[SIGNER_HEADER] = {"type": "string", "description": "The publishing principal (e.g. `unit-hrss`)."}
    properties[SIGNATURE_HEADER] = {
        "type": "string", "contentEncoding": "base64",
        "description": "Ed25519 signature by the publisher's key of the UTF-8 lines `liandong-signature-v1`, ce_id, "
                       "ce_type, ce_time, the key and the value's lowercase hex SHA-256, joined by `\\n`."}
    if et.checked_on is not None:
        properties.update({name: {"type": "string", "description": f"On the checked copy ({et.checked_on}) only: {words}"}
                           for name, words in zip(ANSWER_HEADERS, _ANSWER_WORDS, strict=True)})
    if et.topic == DEAD_LETTER:
        properties[REASON_HEADER] = {"type": "string", "description": "Why the message could not be processed."}
        properties[ERROR_HEADER] = {"type": "string", "description": "The error, at most 4096 bytes of UTF-8."}
        properties[SOURCE_HEADER] = {"type": "string", "description": "Where the message was read: `<topic>/<partition>/<offset>`."}
    required = [name for name in properties if name not in ANSWER_HEADERS]
    return {"type": "object", "required": required, "properties": properties}


_ANSWER_WORDS = ("the unit's principal, which signed the answer as sent.",
                 "the unit's signature of the answer as sent (base64).",
                 "the answer's ce_time as sent.",
                 "lowercase hex SHA-256 of the answer's value as sent.",
                 "the replies topic the answer came on.")


def _topic_config_value(name: str, value: str) -> str | int | list[str]:
    if name == "cleanup.policy":
        return value.split(",")
    return int(value) if value.lstrip("-").isdigit() else value


def _schema_doc(fullname: str) -> str:
    raw = json.loads((ROOT / "schemas" / f"{fullname}.avsc").read_text(encoding="utf-8"))
    return str(raw.get("doc", fullname))


def _channel_id(topic: str) -> str:
    first, *rest = topic.removeprefix("liandong.").split(".")
    return first + "".join(_capitalised(part) for part in rest)


def _capitalised(word: str) -> str:
    return word[:1].upper() + word[1:]


class _Dumper(yaml.SafeDumper):
    """Safe YAML with block literals for multi-line text and no anchors for repeated values."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)
