"""`liandong notices delivered`: a delivery confirmation (送达回证) for a notice, published as
``svc-delivery`` (the bureau's delivery systems' principal) on liandong.bureau.deliveries.
A delivery system with its own Kafka client publishes the same event (docs/petitioner.md)."""

from __future__ import annotations

import uuid
from typing import Any

import typer
from liandong_sdk.records import case_ref_of
from rich.console import Console

notices_app = typer.Typer(help="Written notices (告知书) to petitioners: delivery confirmations.", no_args_is_help=True)
console = Console()


def delivered_id(notice_no: str) -> uuid.UUID:
    """The id of a notice's delivery confirmation: the same for every confirmation of that notice."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"liandong:delivered:{notice_no}")


def delivery(notice_no: str, channel: str, receipt: str, at: Any) -> dict[str, Any]:
    """The notice.delivered record for a notice number (<case number>-<kind code>-<n>); ValueError
    for a number that is not one, a channel that is not one, or an empty receipt."""
    from liandong_sdk.events import DeliveryChannel

    from liandong.domain.notices import CODES

    case_number, *rest = notice_no.rsplit("-", 2)
    kinds = {code: kind for kind, code in CODES.items()}
    if len(rest) != 2 or "-" not in case_number or rest[0] not in kinds or not rest[1].isdigit():
        raise ValueError(f"{notice_no!r} is not a notice number (<case number>-<{'|'.join(kinds)}>-<n>)")
    if channel not in DeliveryChannel.__members__ or channel == "UNKNOWN":
        raise ValueError(f"channel {channel!r}: one of SMS, POST, ONLINE, IN_PERSON")
    if not receipt.strip():
        raise ValueError("a receipt (the gateway's message id, the registered-mail number, ...) is required")
    return {"event_id": delivered_id(notice_no), "occurred_at": at, "case": case_ref_of(case_number),
            "deadline": None, "notice_no": notice_no, "kind": kinds[rest[0]].value, "delivery_channel": channel,
            "receipt": receipt.strip()}


@notices_app.command("delivered")
def delivered(notice_no: str, channel: str = typer.Option(..., help="SMS, POST, ONLINE or IN_PERSON."),
              receipt: str = typer.Option(..., help="The delivery's proof: message id, registered-mail number, ...")) -> None:
    """Confirm that a notice reached the petitioner; the ledger puts it on the case's timeline."""
    from liandong_sdk.events import NoticeDelivered

    from liandong import Bus
    from liandong.broker import configured_bootstrap
    from liandong.clock import now

    try:
        record = delivery(notice_no, channel, receipt, now())
    except ValueError as exc:
        console.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    bus = Bus.from_settings(configured_bootstrap()).as_principal("svc-delivery")
    with bus.publisher("bureau/delivery") as pub:
        pub.publish(NoticeDelivered.TYPE, record).get(timeout=30)
    console.print(f"{notice_no}: delivered by {channel} ({record['receipt']})", highlight=False)
