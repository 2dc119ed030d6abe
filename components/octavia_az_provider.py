"""Pulumi dynamic resources for Octavia availability zones and their profiles.

pulumi-openstack has no resource for either, so these two talk to Octavia's v2 API through
openstacksdk's load-balancer adapter, with the credentials of the environment (OS_CLOUD and
clouds.yaml, or OS_* variables: what tools/env.sh exports for the OpenStack provider too):

- AvailabilityZoneProfile: {name, provider_name, availability_zone_data}. The name changes in
  place; other data is a new profile (Octavia refuses to change a profile in use), created
  before the old one is deleted.
- AvailabilityZone: {name, availability_zone_profile_id, description, enabled}. The name is its
  ID, so another name or profile deletes it first, then creates it (Octavia refuses to delete a
  zone load balancers still use: the error says so, and nothing is lost).

Both read themselves back (`pulumi refresh`, `preview --refresh`), so changes made by hand show
as drift and `up` puts the declared values back; one deleted by hand is created again.

Providers are pickled into state by reference to this module, like components.pki_provider; they
hold no attributes. openstacksdk is imported when a provider runs, not when the program declares.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Optional

import pulumi
from pulumi import dynamic

DYNAMIC_MODULE = "octavia"


class OctaviaApiError(Exception):
    pass


@functools.lru_cache(maxsize=1)  # one session per provider process
def _octavia():
    """The load-balancer API of the environment's cloud (openstacksdk proxy: get/post/put/delete)."""
    import openstack

    try:
        connection = openstack.connect()
        connection.authorize()
    except Exception as error:  # no cloud configured, bad credentials, Keystone unreachable
        raise OctaviaApiError(
            "Octavia availability zones are managed with the environment's OpenStack credentials "
            f"(OS_CLOUD with clouds.yaml, or OS_AUTH_URL and the other OS_* variables): {error}"
        ) from None
    return connection.load_balancer


def _call(method: str, path: str, body: Optional[dict] = None) -> Optional[dict]:
    """Octavia's JSON answer; None for 404 on a GET; OctaviaApiError with Octavia's own message."""
    response = getattr(_octavia(), method)(path, json=body, raise_exc=False)
    if method == "get" and response.status_code == 404:
        return None
    if response.status_code >= 400:
        try:
            detail = response.json().get("faultstring") or response.text
        except ValueError:
            detail = response.text
        raise OctaviaApiError(f"Octavia {method.upper()} {path}: {response.status_code} {detail.strip()}")
    return response.json() if response.content else None


def _picked(record: dict, fields: tuple[str, ...]) -> dict[str, Any]:
    return {field: record.get(field) for field in fields}


def _changed(olds: dict, news: dict, fields: tuple[str, ...]) -> list[str]:
    return [field for field in fields if olds.get(field) != news.get(field)]


def zone_data(compute_zone: str, management_network: str) -> str:
    """An amphora-provider profile's data, as Octavia stores it (a JSON string; keys sorted, so
    reading it back compares equal)."""
    return json.dumps({"compute_zone": compute_zone, "management_network": management_network}, sort_keys=True)


def _normal_data(text: Optional[str]) -> Optional[str]:
    try:
        return json.dumps(json.loads(text), sort_keys=True)
    except (TypeError, ValueError):
        return text


class _OctaviaObjectProvider(dynamic.ResourceProvider):
    """Create, read, diff, update and delete one kind of Octavia object; subclasses say which."""

    path: str  # the collection's path
    envelope: str  # the JSON key the object travels under
    fields: tuple[str, ...]
    updatable: tuple[str, ...]  # changed in place; a change of any other field makes a new object
    id_field = "id"
    delete_before_replace = False

    def outputs(self, record: dict) -> dict[str, Any]:
        return _picked(record, self.fields)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        created = _call("post", self.path, {self.envelope: _picked(props, self.fields)})[self.envelope]
        return dynamic.CreateResult(created[self.id_field], _picked(props, self.fields))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        found = _call("get", f"{self.path}/{id_}")
        if found is None:
            return dynamic.ReadResult("", {})  # deleted by hand: refresh drops it, up creates it again
        return dynamic.ReadResult(id_, self.outputs(found[self.envelope]))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changes = _changed(olds, news, self.fields)
        replaces = [field for field in changes if field not in self.updatable]
        return dynamic.DiffResult(
            changes=bool(changes), replaces=replaces, delete_before_replace=self.delete_before_replace
        )

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        _call("put", f"{self.path}/{id_}", {self.envelope: _picked(news, self.updatable)})
        return dynamic.UpdateResult(_picked(news, self.fields))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        if _call("get", f"{self.path}/{id_}") is not None:
            _call("delete", f"{self.path}/{id_}")


class AvailabilityZoneProfileProvider(_OctaviaObjectProvider):
    path, envelope = "/lbaas/availabilityzoneprofiles", "availability_zone_profile"
    fields = ("name", "provider_name", "availability_zone_data")
    updatable = ("name",)  # Octavia refuses other changes to a profile in use

    def outputs(self, record: dict) -> dict[str, Any]:
        return {**super().outputs(record), "availability_zone_data": _normal_data(record["availability_zone_data"])}


class AvailabilityZoneProfile(dynamic.Resource, module=DYNAMIC_MODULE, name="AvailabilityZoneProfile"):
    name: pulumi.Output[str]
    provider_name: pulumi.Output[str]
    availability_zone_data: pulumi.Output[str]

    def __init__(self, resource_name: str, inputs: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(AvailabilityZoneProfileProvider(), resource_name, inputs, opts)


class AvailabilityZoneProvider(_OctaviaObjectProvider):
    path, envelope = "/lbaas/availabilityzones", "availability_zone"
    fields = ("name", "availability_zone_profile_id", "description", "enabled")
    updatable = ("description", "enabled")
    id_field = "name"  # the zone's name is its ID: another name or profile deletes it first
    delete_before_replace = True


class AvailabilityZone(dynamic.Resource, module=DYNAMIC_MODULE, name="AvailabilityZone"):
    name: pulumi.Output[str]
    availability_zone_profile_id: pulumi.Output[str]
    description: pulumi.Output[str]
    enabled: pulumi.Output[bool]

    def __init__(self, resource_name: str, inputs: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(AvailabilityZoneProvider(), resource_name, inputs, opts)
