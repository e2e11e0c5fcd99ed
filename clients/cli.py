"""``integrations``: the operator's command line for the IntegrationService.

    INTEGRATIONS_TOKEN_FILE=~/.integrations-token integrations --org acme --project p1 list
    integrations configure clickup < token.txt        # the API token from stdin or a prompt, never argv
    integrations import clickup                       # live progress; Ctrl-C offers to cancel
    integrations connect clickup [--open-browser]     # sign in: prints the consent URL, waits on loopback
    integrations connect clickup --no-browser-listener [--redirect-uri URI]   # headless: prints URL and state
    integrations connect clickup --state=STATE --code=CODE                     # ...then completes it
    integrations audit [--name clickup]               # who changed what, newest first
    integrations disable clickup --delete-data        # asks for the name again, then deletes in batches
    integrations fields clickup                       # custom fields, the property each becomes, the last re-map
    integrations map-field clickup FIELD_ID --property story_points --type number --wait
                                                      # rename, retype (--skip: leave out; --reset: default)

Exit codes: 0 ok; 1 the operation itself failed (connection test not ok, import failed or was
cancelled); 2 usage or configuration; 3 not found; 4 unauthenticated or not allowed; 5 the server
is unavailable; 6 invalid argument or failed precondition; 7 any other server error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import webbrowser
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import grpc
from google.protobuf import duration_pb2, json_format, timestamp_pb2
from google.protobuf.message import Message

from clients.client import IntegrationsClient
from clients.credentials import TokenMissing, bearer_token
from clients.errors import IntegrationsError
from clients.field_types import FIELD_TYPES, type_word
from clients.loopback import LoopbackRedirect, Redirect
from envconfig import Config
from integrations.v1 import integration_service_pb2 as pb

EXIT_CODES = {
    grpc.StatusCode.NOT_FOUND: 3,
    grpc.StatusCode.UNAUTHENTICATED: 4,
    grpc.StatusCode.PERMISSION_DENIED: 4,
    grpc.StatusCode.UNAVAILABLE: 5,
    grpc.StatusCode.DEADLINE_EXCEEDED: 5,
    grpc.StatusCode.INVALID_ARGUMENT: 6,
    grpc.StatusCode.FAILED_PRECONDITION: 6,
    grpc.StatusCode.ALREADY_EXISTS: 6,
}


class UsageError(Exception):
    """Bad arguments or configuration: exit 2 with one clear line."""


class OperationFailed(Exception):
    """The operation itself did not succeed (no sign-in came back in time): exit 1 with one line."""


# Without a listener the browser is sent here and fails to load; its address bar then holds the
# code and the state to pass to `connect --code … --state …`. Loopback on any port is how native
# apps register (RFC 8252 §7.3).
HEADLESS_REDIRECT_URI = "http://127.0.0.1/oauth/callback"


def _option(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line: the value read as JSON (``["1","2"]``, ``true``), else as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--option wants KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def as_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _state(value: int, enum: Any, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix)


def _when(stamp: timestamp_pb2.Timestamp, present: bool) -> str:
    """A timestamp field as UTC seconds, or "-" when the message does not carry it."""
    return stamp.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds") if present else "-"


def _counts(counters: Any) -> str:
    """Written counts by kind, largest first: "448 task, 21 list"."""
    ordered = sorted(counters.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{count} {kind}" for kind, count in ordered) or "nothing"


def integration_text(item: pb.Integration) -> str:
    """What an operator asks first: connected how, live or not, and what the last import wrote."""
    auth = _state(item.settings.auth_method, pb.AuthMethod, "AUTH_METHOD_") if item.configured else "-"
    lines = [
        f"{item.display_name} ({item.name}): {'enabled' if item.enabled else 'disabled'}, "
        f"{_state(item.connection_status, pb.ConnectionStatus, 'CONNECTION_STATUS_')}, auth {auth}, "
        f"token {item.settings.api_token or '(none)'}",
        f"  last tested {_when(item.last_tested_time, item.HasField('last_tested_time'))}; "
        f"last error: {item.last_error or '-'}",
    ]
    if item.webhooks:
        for hook in item.webhooks:
            lines.append(
                f"  live sync: webhook {hook.id} (workspace {hook.workspace_id}) {hook.status}, "
                f"{hook.fail_count} failures, checked {_when(hook.checked_time, hook.HasField('checked_time'))}"
            )
    else:
        lines.append("  live sync: off (no webhooks)")
    sync = item.sync_state
    if sync.last_import_job_id:
        lines.append(
            f"  last import {sync.last_import_job_id} "
            f"(full import {_when(sync.last_full_import_time, sync.HasField('last_full_import_time'))}): "
            f"{_counts(sync.totals)}"
        )
    else:
        lines.append("  last import: none yet")
    if sync.last_error:
        lines.append(f"  last sync error: {sync.last_error}")
    return "\n".join(lines)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def own_rule(field: pb.CustomField) -> pb.FieldMapping:
    """The field's mapping as the least that says it: the default property and the natural type left
    empty, so a field mapped as it would be anyway is sent as no rule at all."""
    mapping = field.mapping
    return pb.FieldMapping(
        field_id=field.id,
        property="" if mapping.property == field.default_property else mapping.property,
        type=pb.FIELD_TYPE_UNSPECIFIED if mapping.type == field.natural_type else mapping.type,
        skip=mapping.skip,
    )


def is_default(rule: pb.FieldMapping) -> bool:
    return not (rule.property or rule.type or rule.skip)


def _effective_type(field: pb.CustomField) -> str:
    return type_word(field.mapping.type or field.natural_type)


def mapping_text(field: pb.CustomField) -> str:
    """What the field becomes: 'Customer (id): customer, string', or 'Approved (id): skipped'."""
    where = "skipped" if field.mapping.skip else f"{field.mapping.property}, {_effective_type(field)}"
    return f"{field.name} ({field.id}): {where}"


def fields_text(listed: pb.ListCustomFieldsResponse) -> str:
    """One row a field (the property and type it becomes now), then the newest re-map of the graph."""
    rows = [
        (
            f.name,
            f.id,
            f.provider_type,
            f.mapping.property,
            _effective_type(f),
            "yes" if f.mapping.skip else "no",
        )
        for f in listed.fields
    ]
    header = ("NAME", "ID", "PROVIDER TYPE", "PROPERTY", "TYPE", "SKIPPED")
    lines = _table(header, rows) if rows else ["no custom fields"]
    lines.append("re-map: " + (job_text(listed.remap_job) if listed.HasField("remap_job") else "none yet"))
    for stale in listed.stale_mappings:
        lines.append(f"stale mapping of field {stale.field_id}: no longer listed by the integration (kept)")
    return "\n".join(lines)


def job_text(job: pb.ImportJob) -> str:
    started = job.HasField("start_time")
    took = "-"
    if started and job.HasField("finish_time"):
        took = f"{(job.finish_time.ToDatetime() - job.start_time.ToDatetime()).total_seconds():.1f}s"
    return (
        f"{job.id}  {job.integration:<8} {_state(job.state, pb.ImportJobState, 'IMPORT_JOB_STATE_'):<9} "
        f"started {_when(job.start_time, started)}  took {took}  calls {job.api_calls} "
        f"(rate-limit waits {job.rate_limit_waits})  wrote {_counts(job.counters)}"
        + (f"  error: {job.error}" if job.error else "")
        + ("  (field re-map)" if job.kind == pb.IMPORT_JOB_KIND_FIELD_REMAP else "")
    )


class Cli:
    def __init__(self, args: argparse.Namespace, client: IntegrationsClient, out: TextIO, stdin: TextIO) -> None:
        self.args = args
        self.client = client
        self.out = out
        self.stdin = stdin
        self.scope = (args.org, args.project)

    def emit(self, payload: Any, text: str) -> None:
        print(json.dumps(payload, sort_keys=True) if self.args.json else text, file=self.out)

    # ------------------------------------------------------------ read commands (all take --json)

    def list(self) -> int:
        items = self.client.list_integrations(*self.scope)
        lines = [
            f"{i.name:<12} {'enabled' if i.enabled else 'disabled':<9} "
            f"{'configured' if i.configured else 'not configured':<15} "
            f"{_state(i.connection_status, pb.ConnectionStatus, 'CONNECTION_STATUS_')}"
            for i in items
        ]
        self.emit([as_json(i) for i in items], "\n".join(lines))
        return 0

    def get(self) -> int:
        item = self.client.get_integration(*self.scope, self.args.name)
        self.emit(as_json(item), integration_text(item))
        return 0

    def jobs(self) -> int:
        response = self.client.list_import_jobs(*self.scope, self.args.name or "")
        lines = [job_text(job) for job in response.jobs]
        self.emit([as_json(j) for j in response.jobs], "\n".join(lines) or "no import jobs")
        return 0

    def audit(self) -> int:
        response = self.client.list_audit_records(*self.scope, self.args.name or "", page_size=self.args.limit)
        lines = [
            f"{_when(r.create_time, r.HasField('create_time'))}  {r.actor:<10} {r.action:<24} "
            f"{r.integration or '-':<8} " + " ".join(f"{k}={v}" for k, v in sorted(r.details.items()))
            for r in response.records
        ]
        self.emit([as_json(r) for r in response.records], "\n".join(lines) or "no audit records")
        return 0

    def fields(self) -> int:
        listed = self.client.list_custom_fields(*self.scope, self.args.name)
        self.emit(as_json(listed), fields_text(listed))
        return 0

    def webhooks(self) -> int:
        item = self.client.get_integration(*self.scope, self.args.name)
        lines = [f"{w.id}  workspace {w.workspace_id}  {w.status}  failures {w.fail_count}" for w in item.webhooks]
        self.emit([as_json(w) for w in item.webhooks], "\n".join(lines) or "no webhooks (auto-sync is off)")
        return 0

    def events(self) -> int:
        state = (
            pb.WebhookEventState.Value(f"WEBHOOK_EVENT_STATE_{self.args.state.upper()}")
            if self.args.state
            else pb.WEBHOOK_EVENT_STATE_UNSPECIFIED
        )
        response = self.client.list_webhook_events(*self.scope, state, page_size=self.args.limit)
        lines = [
            f"{e.id}  {_state(e.state, pb.WebhookEventState, 'WEBHOOK_EVENT_STATE_'):<8} {e.event} "
            f"{e.object_id} attempts {e.attempts} {e.last_error}"
            for e in response.events
        ]
        self.emit([as_json(e) for e in response.events], "\n".join(lines) or "no events")
        return 0

    # ------------------------------------------------------------ changes

    def configure(self) -> int:
        token = self._read_token()
        settings = pb.IntegrationSettings(
            auth_method=pb.AUTH_METHOD_OAUTH if self.args.oauth else pb.AUTH_METHOD_API_TOKEN, api_token=token
        )
        options = dict(_option(text) for text in self.args.option or [])
        if self.args.workspace:
            options["workspace_ids"] = list(self.args.workspace)
        if options:
            settings.options.update(options)
        settings.sync_settings.auto_sync = self.args.auto_sync
        if self.args.sync_interval:
            settings.sync_settings.sync_interval.CopyFrom(duration_pb2.Duration(seconds=self.args.sync_interval))
        item = self.client.update_integration(
            *self.scope, self.args.name, pb.Integration(settings=settings), ["settings"]
        )
        self.emit(as_json(item), f"{item.display_name} configured; token stored as {item.settings.api_token}")
        return 0

    def _read_token(self) -> str:
        token = self.stdin.readline().strip() if not self.stdin.isatty() else getpass.getpass("API token: ").strip()
        if not token:
            raise UsageError("no API token given (pipe it on stdin or type it at the prompt)")
        return token

    def enable(self, on: bool) -> int:
        item = self.client.update_integration(*self.scope, self.args.name, pb.Integration(enabled=on), ["enabled"])
        self.emit(as_json(item), f"{item.display_name} {'enabled' if item.enabled else 'disabled'}")
        return 0

    def disable(self) -> int:
        name = self.args.name
        if not self.args.delete_data:
            done = self.client.disable_integration(*self.scope, name)
            self.emit(as_json(done.integration), f"{done.integration.display_name} disabled (its data is kept)")
            return 0
        confirm = self.args.confirm
        if confirm is None:
            print(
                f"This deletes everything {name} imported into the project. Type {name!r} to confirm:", file=sys.stderr
            )
            confirm = self.stdin.readline().strip()
        done = self.client.disable_integration(*self.scope, name, delete_data=True, confirm_name=confirm)
        final = done.deletion
        for update in self.client.watch_data_deletion(*self.scope, done.deletion.id):
            final = update
            if not self.args.json:
                print(f"deleting: {sum(update.removed.values())} nodes in {update.batches} batches", file=sys.stderr)
        state = _state(final.state, pb.DataDeletionState, "DATA_DELETION_STATE_")
        removed = _counts(final.removed)
        self.emit(
            as_json(final), f"{done.integration.display_name} disabled; data deletion {final.id} {state}: {removed}"
        )
        return 0 if final.state == pb.DATA_DELETION_STATE_SUCCEEDED else 1

    def test(self) -> int:
        result = self.client.test_connection(*self.scope, self.args.name)
        self.emit(as_json(result), f"{'OK' if result.ok else 'FAILED'}: {result.message}")
        return 0 if result.ok else 1

    def import_(self) -> int:
        mode = pb.IMPORT_MODE_INCREMENTAL if self.args.incremental else pb.IMPORT_MODE_FULL
        job = self.client.start_import(*self.scope, self.args.name, mode=mode)
        if self.args.no_wait:
            self.emit(as_json(job), f"import {job.id} {_state(job.state, pb.ImportJobState, 'IMPORT_JOB_STATE_')}")
            return 0
        final = job
        try:
            for update in self.client.watch_import_job(*self.scope, job.id):
                final = update
                counts = " ".join(
                    f"{k}={v}"
                    for k, v in sorted(update.counters.items())
                    if k in ("space", "folder", "list", "task", "person", "tag")
                )
                self._progress(update, f"pages {update.pages:>4}  {counts}")
        except KeyboardInterrupt:
            print(file=self.out)
            answer = input("Cancel the import? [y/N] ") if self.stdin.isatty() else "n"
            if answer.strip().lower().startswith("y"):
                final = self.client.cancel_import_job(*self.scope, job.id)
                print(f"import {job.id} cancelled", file=self.out)
                return 1
            print(f"import {job.id} keeps running; follow it with: integrations jobs", file=self.out)
            return 0
        if not self.args.json:
            print(file=self.out)
        state = _state(final.state, pb.ImportJobState, "IMPORT_JOB_STATE_")
        self.emit(as_json(final), f"import {final.id} {state}" + (f": {final.error}" if final.error else ""))
        return 0 if final.state == pb.IMPORT_JOB_STATE_SUCCEEDED else 1

    def _progress(self, update: pb.ImportJob, counts: str) -> None:
        """One line for a job's progress, written over the one before (not with --json)."""
        if not self.args.json:
            state = _state(update.state, pb.ImportJobState, "IMPORT_JOB_STATE_")
            print(
                f"\r{state:<9} {counts}  {update.phase[:60]:<60}",
                end="",
                file=self.out,
                flush=True,
            )

    def map_field(self) -> int:
        """Changes one custom field's mapping: the current mapping is read, that field changed, and the
        whole mapping sent back (what the RPC takes). Nodes already imported are re-mapped in the
        background; ``--wait`` follows that job to its end."""
        args = self.args
        changes = (args.property, args.type, args.skip)
        if args.reset and any(change is not None for change in changes):
            raise UsageError("--reset goes alone: it puts the field back to its default property and type")
        if not args.reset and all(change is None for change in changes):
            raise UsageError("nothing to change: give --property, --type, --skip/--no-skip or --reset")
        current = self.client.list_custom_fields(*self.scope, args.name)
        field = next((f for f in current.fields if f.id == args.field_id), None)
        if field is None:
            raise UsageError(
                f"{args.name} lists no custom field {args.field_id!r}; see: integrations fields {args.name}"
            )
        mappings = []
        for each in current.fields:
            rule = own_rule(each)
            if each.id == field.id:
                rule = self._changed(field, pb.FieldMapping(field_id=field.id) if args.reset else rule)
            if not is_default(rule):
                mappings.append(rule)
        mappings.extend(current.stale_mappings)  # kept as they are: only this field changes
        done = self.client.update_field_mappings(*self.scope, args.name, mappings)
        saved = next((f for f in done.fields if f.id == field.id), field)
        if not done.HasField("remap_job"):
            self.emit(as_json(done), f"{mapping_text(saved)}; unchanged, nothing to re-map")
            return 0
        job = done.remap_job
        state = _state(job.state, pb.ImportJobState, "IMPORT_JOB_STATE_")
        if not args.wait:
            self.emit(as_json(done), f"{mapping_text(saved)}; re-map job {job.id} {state}")
            return 0
        if not args.json:
            print(f"{mapping_text(saved)}; re-map job {job.id} {state}", file=self.out)
        final = job
        try:
            for update in self.client.watch_import_job(*self.scope, job.id):
                final = update
                self._progress(update, _counts(update.counters))
        except KeyboardInterrupt:
            print(f"\nre-map {job.id} keeps running; follow it with: integrations fields {args.name}", file=self.out)
            return 0
        if not args.json:
            print(file=self.out)
        state = _state(final.state, pb.ImportJobState, "IMPORT_JOB_STATE_")
        self.emit(as_json(final), f"re-map {final.id} {state}" + (f": {final.error}" if final.error else ""))
        return 0 if final.state == pb.IMPORT_JOB_STATE_SUCCEEDED else 1

    def _changed(self, field: pb.CustomField, rule: pb.FieldMapping) -> pb.FieldMapping:
        """``rule`` with this command's changes; the default property and the natural type as empty."""
        if self.args.property is not None:
            wanted = self.args.property.strip()
            rule.property = "" if wanted == field.default_property else wanted
        if self.args.type is not None:
            kind = FIELD_TYPES[self.args.type]
            rule.type = pb.FIELD_TYPE_UNSPECIFIED if kind == field.natural_type else kind
        if self.args.skip is not None:
            rule.skip = self.args.skip
        return rule

    def connect(self) -> int:
        """Sign in (OAuth): through a loopback listener by default, or in two headless steps."""
        args = self.args
        if args.code or args.state:
            if not (args.code and args.state):
                raise UsageError("--code and --state go together: both come from the same redirect")
            code = self.stdin.readline().strip() if args.code == "-" else args.code
            return self._complete(Redirect(args.state, code))
        if args.no_browser_listener:
            return self._start_headless(args.redirect_uri or HEADLESS_REDIRECT_URI)
        if args.redirect_uri:
            raise UsageError("--redirect-uri goes with --no-browser-listener; the listener makes its own")
        if args.timeout <= 0:
            raise UsageError("--timeout must be a positive number of seconds")
        with LoopbackRedirect() as listener:
            started = self.client.start_authorization(*self.scope, args.name, listener.redirect_uri)
            listener.expect(started.state)
            self._show_start(started, listener.redirect_uri, f"waiting up to {args.timeout:g} s for it to come back")
            if args.open_browser:
                webbrowser.open(started.authorization_url)
            try:
                redirect = listener.wait(args.timeout)
            except TimeoutError as exc:
                raise OperationFailed(f"{exc}; run connect again") from None
            except KeyboardInterrupt:
                raise OperationFailed("sign-in cancelled") from None
            try:
                done = self.client.complete_authorization(self._complete_request(redirect))
            except IntegrationsError as exc:
                listener.answer(False, f"Not connected: {exc.message}")
                raise
            listener.answer(True, f"{self._connected_text(done)}. You can close this tab.")
        return self._report(done)

    def _show_start(self, started: pb.StartAuthorizationResponse, redirect_uri: str, then: str) -> None:
        payload = as_json(started) | {"redirect_uri": redirect_uri}
        if self.args.json:
            print(json.dumps(payload, sort_keys=True), file=self.out, flush=True)
            return
        print(
            f"Open this address in a browser to sign in ({then}):\n\n  {started.authorization_url}\n",
            file=self.out,
            flush=True,
        )

    def _start_headless(self, redirect_uri: str) -> int:
        started = self.client.start_authorization(*self.scope, self.args.name, redirect_uri)
        self._show_start(started, redirect_uri, "no listener")
        if not self.args.json:
            expires = started.expire_time.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds")
            print(
                f"After you approve, the browser goes to {redirect_uri}?code=…&state=… (it may fail to load).\n"
                f"Finish before {expires} with:\n\n"
                f"  integrations --org {self.args.org} --project {self.args.project} connect {self.args.name} "
                # "=": a state (or a code) may begin with "-", which would read as an option after a space.
                f"--state={started.state} --code=CODE",
                file=self.out,
            )
        return 0

    def _complete_request(self, redirect: Redirect) -> pb.CompleteAuthorizationRequest:
        return pb.CompleteAuthorizationRequest(
            org_id=self.args.org,
            project_id=self.args.project,
            name=self.args.name,
            state=redirect.state,
            code=redirect.code,
            error=redirect.error[:200],
            error_description=redirect.error_description[:500],
        )

    def _complete(self, redirect: Redirect) -> int:
        return self._report(self.client.complete_authorization(self._complete_request(redirect)))

    @staticmethod
    def _connected_text(done: pb.CompleteAuthorizationResponse) -> str:
        account = done.account.username or done.account.id
        if done.account.email:
            account += f" ({done.account.email})"
        places = ", ".join(f"{w.name} ({w.id})" for w in done.workspaces) or "none"
        return f"{done.integration.display_name} connected through sign-in as {account}; workspaces: {places}"

    def _report(self, done: pb.CompleteAuthorizationResponse) -> int:
        self.emit(as_json(done), self._connected_text(done))
        return 0

    def replay(self) -> int:
        request = pb.ReplayWebhookEventsRequest(
            org_id=self.args.org, project_id=self.args.project, event_ids=self.args.event or []
        )
        for field, value in (("start_time", self.args.since), ("end_time", self.args.until)):
            if value:
                try:
                    moment = datetime.fromisoformat(value)
                except ValueError:
                    raise UsageError(f"--{'since' if field == 'start_time' else 'until'} must be an ISO time") from None
                ts = timestamp_pb2.Timestamp()
                ts.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
                getattr(request, field).CopyFrom(ts)
        response = self.client.replay_webhook_events(request)
        self.emit(as_json(response), f"{response.replayed} event(s) queued again")
        return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="integrations", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    env = Config()
    root.add_argument("--server", default=env("INTEGRATIONS_SERVER", default="127.0.0.1:50051"))
    root.add_argument("--org", default=env.optional("INTEGRATIONS_ORG"))
    root.add_argument("--project", default=env.optional("INTEGRATIONS_PROJECT"))
    root.add_argument("--json", action="store_true", help="machine-readable output")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the integrations of the project")
    disable = commands.add_parser("disable", help="turn off, keeping its data (or --delete-data)")
    disable.add_argument("name")
    disable.add_argument("--delete-data", action="store_true", help="also delete everything it imported")
    disable.add_argument("--confirm", metavar="NAME", help="with --delete-data: the name again (else asked on stdin)")
    for name, text in (
        ("get", "one integration"),
        ("enable", "turn on"),
        ("test", "test the stored credentials"),
        ("webhooks", "webhook health"),
    ):
        commands.add_parser(name, help=text).add_argument("name")
    configure = commands.add_parser("configure", help="store credentials (token on stdin or at a prompt)")
    configure.add_argument("name")
    configure.add_argument("--workspace", action="append", help="limit to this workspace id (repeatable)")
    configure.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="one of the integration's options (see its options_schema); VALUE is JSON, or else text (repeatable)",
    )
    configure.add_argument("--oauth", action="store_true", help="the token is an OAuth access token")
    configure.add_argument("--auto-sync", action="store_true", help="keep the graph live through webhooks")
    configure.add_argument("--sync-interval", type=int, help="seconds between gap repairs")
    connect = commands.add_parser(
        "connect", help="sign in (OAuth): prints the consent URL and waits for the redirect on 127.0.0.1"
    )
    connect.add_argument("name")
    connect.add_argument("--open-browser", action="store_true", help="also open the consent URL in a browser")
    connect.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the redirect (default 300)")
    connect.add_argument(
        "--no-browser-listener",
        action="store_true",
        help="headless: print the consent URL and the state, then finish with --state and --code",
    )
    connect.add_argument(
        "--redirect-uri",
        help=f"with --no-browser-listener: where the browser is sent (default {HEADLESS_REDIRECT_URI})",
    )
    connect.add_argument("--state", help="finish a headless sign-in: the state the redirect carried")
    connect.add_argument("--code", help="finish a headless sign-in: the code the redirect carried ('-': from stdin)")
    run = commands.add_parser("import", help="full (or incremental) import with live progress")
    run.add_argument("name")
    run.add_argument(
        "--incremental", action="store_true", help="only what changed since the last import (after a full one)"
    )
    run.add_argument("--no-wait", action="store_true")
    jobs = commands.add_parser("jobs", help="import jobs")
    jobs.add_argument("--name")
    events = commands.add_parser("events", help="webhook events")
    events.add_argument("--state", choices=["pending", "held", "applied", "failed", "dead_lettered"])
    events.add_argument("--limit", type=int, default=20)
    replay = commands.add_parser("replay", help="queue webhook events again")
    replay.add_argument("--event", action="append", help="an event id (repeatable)")
    replay.add_argument("--since", help="received at or after (ISO time)")
    replay.add_argument("--until", help="received before (ISO time)")
    fields = commands.add_parser("fields", help="custom fields, the property each becomes, and the last re-map")
    fields.add_argument("name")
    mapped = commands.add_parser(
        "map-field", help="rename, retype or skip one custom field; the graph is re-mapped in the background"
    )
    mapped.add_argument("name")
    mapped.add_argument("field_id", metavar="field-id", help="the field's id (see: integrations fields NAME)")
    mapped.add_argument("--property", help="the graph property it becomes (empty: the default, cf_<name>)")
    mapped.add_argument("--type", choices=list(FIELD_TYPES), help="the type of its values (natural: as read)")
    mapped.add_argument(
        "--skip", action=argparse.BooleanOptionalAction, help="leave the field out of the graph (or put it back)"
    )
    mapped.add_argument("--reset", action="store_true", help="back to the default property and type, not skipped")
    mapped.add_argument("--wait", action="store_true", help="follow the re-map job to its end")
    audit = commands.add_parser("audit", help="who changed what, newest first")
    audit.add_argument("--name", help="only this integration's records")
    audit.add_argument("--limit", type=int, default=20)
    return root


def _token() -> str:
    try:
        return bearer_token()
    except TokenMissing as exc:
        raise UsageError(str(exc)) from None


def main(argv: list[str] | None = None, out: TextIO | None = None, stdin: TextIO | None = None) -> int:
    out, stdin = out or sys.stdout, stdin or sys.stdin
    args = parser().parse_args(argv)
    try:
        if not args.org or not args.project:
            raise UsageError("--org and --project (or INTEGRATIONS_ORG and INTEGRATIONS_PROJECT) are required")
        with IntegrationsClient(args.server, _token(), retries=2) as client:
            cli = Cli(args, client, out, stdin)
            command = args.command
            if command == "enable":
                return cli.enable(True)
            return int(getattr(cli, "import_" if command == "import" else command.replace("-", "_"))())
    except UsageError as exc:
        print(f"integrations: {exc}", file=sys.stderr)
        return 2
    except OperationFailed as exc:
        print(f"integrations: {exc}", file=sys.stderr)
        return 1
    except IntegrationsError as exc:
        print(f"integrations: {exc.code.name.lower()}: {exc.message}", file=sys.stderr)
        return EXIT_CODES.get(exc.code, 7)


if __name__ == "__main__":
    raise SystemExit(main())
