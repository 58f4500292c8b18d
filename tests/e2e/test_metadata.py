"""`webhookd metadata`: the $metadata EDMX, checked by strict consumers.

No server or database: the subcommand prints the document the server
serves. It must be well-formed with every namespace prefix declared
(xmllint), consistent as OData V2 CSDL (checked here with Python's
namespace-aware parser against the spec's model table), and load in the SAP
Cloud SDK's client generator (tests/sdk/generate.sh; only where npx exists,
since its first run downloads the generator from the npm registry; set
WHD_SDK=0 to skip it anyway).
"""
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import BIN, ROOT, clean_env, run_cli

EDMX = "http://schemas.microsoft.com/ado/2007/06/edmx"
M = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
EDM = "http://schemas.microsoft.com/ado/2008/09/edm"
SAP = "http://www.sap.com/Protocols/SAPData"
S = "http://schemas.sap.com/commerce"
NS = "HybrisCommerceOData"
GENERATE = ROOT / "tests" / "sdk" / "generate.sh"

# The spec's model table (shared/spec/odata.md): set -> (type, some
# properties with their EDM type where the spec says, navigation -> target
# end multiplicity).
SPEC = {
    "WebhookConfigurations": ("WebhookConfiguration",
                              {"eventType": "Edm.String", "filterLocation": "Edm.String"},
                              {"destination": "1", "integrationObject": "1"}),
    "ConsumedDestinations": ("ConsumedDestination",
                             {"id": "Edm.String", "url": "Edm.String", "active": "Edm.Boolean",
                              "signingAlgorithm": "Edm.String", "signingSecret": "Edm.String",
                              "ignoreErrors": "Edm.Boolean", "maxInFlight": None,
                              "timeoutMillis": None, "deactivatedReason": "Edm.String"},
                             {"destinationTarget": "1", "endpoint": "0..1",
                              "credentialBasic": "0..1", "credentialConsumedOAuth": "0..1",
                              "additionalProperties": "*"}),
    "DestinationTargets": ("DestinationTarget", {"id": "Edm.String"},
                           {"destinationChannel": "1", "eventConfigurations": "*"}),
    "DestinationChannels": ("DestinationChannel", {"code": "Edm.String"}, {}),
    "EventConfigurations": ("EventConfiguration",
                            {"eventClass": "Edm.String", "exportName": "Edm.String",
                             "version": "Edm.Int32", "description": "Edm.String"},
                            {"destinationTarget": "1"}),
    "Endpoints": ("Endpoint", {"id": "Edm.String", "version": "Edm.String",
                               "name": "Edm.String", "specUrl": "Edm.String"}, {}),
    "BasicCredentials": ("BasicCredential", {"id": None, "username": None, "password": None}, {}),
    "ConsumedOAuthCredentials": ("ConsumedOAuthCredential",
                                 {"id": None, "clientId": None, "clientSecret": None,
                                  "oAuthUrl": None, "scope": None}, {}),
    "IntegrationObjects": ("IntegrationObject", {"code": None, "description": None}, {}),
    "WebhookFilters": ("WebhookFilter", {"code": None, "expression": None}, {}),
    "String2StringMapTypes": ("String2StringMapType", {"key": None, "value": None}, {}),
    "InboundSources": ("InboundSource",
                       {"code": None, "action": None, "verification": None, "secret": None,
                        "headerName": None, "encoding": None, "idPath": None, "active": None},
                       {"integrationObject": "1"}),
}
# In the spec's table but not yet in odata/model.c.
NOT_YET_MODELLED = set()


def q(ns, tag):
    return f"{{{ns}}}{tag}"


@pytest.fixture(scope="module")
def edmx_text():
    p = run_cli(["metadata"], clean_env())
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    return p.stdout


@pytest.fixture(scope="module")
def edmx_file(edmx_text, tmp_path_factory):
    path = tmp_path_factory.mktemp("edmx") / "WebhookService.edmx"
    path.write_text(edmx_text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def doc(edmx_text):
    return ET.fromstring(edmx_text.encode("utf-8"))


@pytest.fixture(scope="module")
def schema(doc):
    schemas = doc.findall(f"{q(EDMX, 'DataServices')}/{q(EDM, 'Schema')}")
    assert len(schemas) == 1
    return schemas[0]


@pytest.fixture(scope="module")
def container(schema):
    found = schema.findall(q(EDM, "EntityContainer"))
    assert len(found) == 1
    return found[0]


def by_name(parent, tag, name, attr="Name"):
    found = [e for e in parent.findall(q(EDM, tag)) if e.get(attr) == name]
    assert len(found) == 1, f"{len(found)} <{tag} {attr}={name!r}>"
    return found[0]


def unqualify(name):
    assert name.startswith(NS + "."), name
    return name[len(NS) + 1:]


# ------------------------------------------------------------------ cli --

def test_cli_prints_the_document(edmx_text):
    assert edmx_text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<edmx:Edmx ')
    assert edmx_text.endswith("</edmx:Edmx>\n")


def test_cli_is_deterministic(edmx_text):
    p = run_cli(["metadata"], clean_env())
    assert p.returncode == 0 and p.stdout == edmx_text


def test_cli_refuses_arguments():
    p = run_cli(["metadata", "extra"], clean_env())
    assert p.returncode == 2
    assert p.stdout == ""
    assert "usage: webhookd" in p.stderr


def test_help_lists_metadata():
    p = run_cli(["--help"], clean_env())
    assert p.returncode == 0
    assert re.search(r"^  metadata +\S", p.stdout, re.M), p.stdout


def test_metadata_needs_no_database(edmx_text):
    # An unreachable database changes nothing: the model is compiled in.
    p = run_cli(["metadata"], clean_env(WEBHOOKD_DATABASE_URL="postgresql://nobody@127.0.0.1:1/x"))
    assert p.returncode == 0, p.stderr
    assert p.stdout == edmx_text


# -------------------------------------------------------------- xmllint --

@pytest.mark.skipif(shutil.which("xmllint") is None, reason="xmllint (libxml2-utils) not installed")
def test_xmllint_accepts_it(edmx_file):
    p = subprocess.run(["xmllint", "--noout", "--nonet", str(edmx_file)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr


# ------------------------------------------------------------ structure --

def test_envelope(doc, schema, container):
    assert doc.tag == q(EDMX, "Edmx")
    assert doc.get("Version") == "1.0"
    ds = doc.findall(q(EDMX, "DataServices"))
    assert len(ds) == 1 and len(doc) == 1
    assert ds[0].get(q(M, "DataServiceVersion")) == "2.0"
    assert schema.get("Namespace") == NS
    assert container.get("Name") == "Container"
    assert container.get(q(M, "IsDefaultEntityContainer")) == "true"


def test_only_known_namespaces(doc):
    for e in doc.iter():
        ns = e.tag[1:].split("}")[0]
        assert ns in (EDMX, EDM), e.tag
        for a in e.attrib:
            if a.startswith("{"):
                assert a[1:].split("}")[0] in (M, SAP, S), (e.tag, a)


def test_entity_types_have_the_key(schema):
    types = schema.findall(q(EDM, "EntityType"))
    assert types
    names = [t.get("Name") for t in types]
    assert len(names) == len(set(names))
    for t in types:
        keys = t.findall(q(EDM, "Key"))
        assert len(keys) == 1
        refs = keys[0].findall(q(EDM, "PropertyRef"))
        assert [r.get("Name") for r in refs] == ["integrationKey"]
        ik = by_name(t, "Property", "integrationKey")
        assert ik.get("Type") == "Edm.String" and ik.get("Nullable") == "false"
        alias = ik.get(q(S, "Alias"))
        assert alias and all(re.fullmatch(r"[A-Za-z0-9]+_[A-Za-z0-9]+", p) for p in alias.split("|"))
        members = [e.get("Name") for e in t if e.tag != q(EDM, "Key")]
        assert len(members) == len(set(members)), t.get("Name")


@pytest.mark.parametrize("entity_set", sorted(SPEC))
def test_spec_model_table(entity_set, schema, container):
    if entity_set in NOT_YET_MODELLED:
        pytest.xfail(f"{entity_set} is in the spec's table but not in odata/model.c yet")
    type_name, props, navs = SPEC[entity_set]
    es = by_name(container, "EntitySet", entity_set)
    assert es.get("EntityType") == f"{NS}.{type_name}"
    et = by_name(schema, "EntityType", type_name)
    for prop, edm in props.items():
        p = by_name(et, "Property", prop)
        if edm is not None:
            assert p.get("Type") == edm, prop
    declared = {n.get("Name") for n in et.findall(q(EDM, "NavigationProperty"))}
    assert declared == set(navs)
    for nav, mult in navs.items():
        n = by_name(et, "NavigationProperty", nav)
        assert n.get("Relationship") == f"{NS}.FK_{type_name}_{nav}"
        assoc = by_name(schema, "Association", unqualify(n.get("Relationship")))
        to = [e for e in assoc.findall(q(EDM, "End")) if e.get("Role") == n.get("ToRole")]
        assert len(to) == 1 and to[0].get("Multiplicity") == mult, nav


def test_spec_examples(schema):
    wc = by_name(schema, "EntityType", "WebhookConfiguration")
    assert by_name(wc, "Property", "integrationKey").get(q(S, "Alias")) == \
        "ConsumedDestination_id|DestinationTarget_id|IntegrationObject_code|" \
        "WebhookConfiguration_eventType"
    assert by_name(wc, "Property", "eventType").get(q(S, "IsUnique")) == "true"
    dest = by_name(wc, "NavigationProperty", "destination")
    assert dest.get(q(S, "IsUnique")) == "true" and dest.get(q(S, "Nullable")) == "false"
    # the composition's owner link is not exposed
    s2s = by_name(schema, "EntityType", "String2StringMapType")
    assert s2s.findall(q(EDM, "NavigationProperty")) == []
    # write-only properties are declared, never readable back
    cd = by_name(schema, "EntityType", "ConsumedDestination")
    assert by_name(cd, "Property", "signingSecret").get(q(SAP, "filterable")) == "false"
    assert by_name(cd, "Property", "deactivatedReason").get(q(SAP, "creatable")) == "false"


def test_navigations_resolve(schema, container):
    """Every NavigationProperty names an Association whose two Ends carry
    its FromRole (this type) and ToRole (another role); every Association
    has exactly one AssociationSet with matching entity sets."""
    assocs = {a.get("Name"): a for a in schema.findall(q(EDM, "Association"))}
    assert len(assocs) == len(schema.findall(q(EDM, "Association")))
    sets_by_type = {unqualify(s.get("EntityType")): s.get("Name")
                    for s in container.findall(q(EDM, "EntitySet"))}
    used = set()
    for t in schema.findall(q(EDM, "EntityType")):
        for n in t.findall(q(EDM, "NavigationProperty")):
            name = unqualify(n.get("Relationship"))
            assert name in assocs, name
            used.add(name)
            ends = {e.get("Role"): e for e in assocs[name].findall(q(EDM, "End"))}
            assert len(ends) == 2, f"{name}: roles must differ"
            assert n.get("FromRole") != n.get("ToRole")
            assert ends[n.get("FromRole")].get("Type") == f"{NS}.{t.get('Name')}"
            assert ends[n.get("ToRole")].get("Type") in {f"{NS}.{x}" for x in sets_by_type}
    assert used == set(assocs), "an Association no navigation uses"
    asets = container.findall(q(EDM, "AssociationSet"))
    assert sorted(unqualify(a.get("Association")) for a in asets) == sorted(assocs)
    for aset in asets:
        assoc = assocs[unqualify(aset.get("Association"))]
        assert aset.get("Name") == assoc.get("Name")
        want = {e.get("Role"): sets_by_type[unqualify(e.get("Type"))]
                for e in assoc.findall(q(EDM, "End"))}
        got = {e.get("Role"): e.get("EntitySet") for e in aset.findall(q(EDM, "End"))}
        assert got == want


# --------------------------------------------------------- SAP Cloud SDK --

@pytest.mark.skipif(shutil.which("npx") is None, reason="npx (npm) not installed")
@pytest.mark.skipif(os.environ.get("WHD_SDK") == "0", reason="WHD_SDK=0")
def test_sap_cloud_sdk_generator(edmx_file, schema, container, tmp_path):
    out = tmp_path / "client"
    p = subprocess.run(["bash", str(GENERATE), str(edmx_file), str(out)],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, f"generator failed:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    svc = out / "WebhookService"
    sets_by_type = {unqualify(s.get("EntityType")): s.get("Name")
                    for s in container.findall(q(EDM, "EntitySet"))}
    assocs = {a.get("Name"): a for a in schema.findall(q(EDM, "Association"))}
    # one entity class per EntityType (the SDK names it after its set)
    for t in schema.findall(q(EDM, "EntityType")):
        cls = sets_by_type[t.get("Name")]
        src = (svc / f"{cls}.ts").read_text()
        api = (svc / f"{cls}Api.ts").read_text()
        assert (svc / f"{cls}RequestBuilder.ts").exists()
        assert f"_entityName = '{cls}'" in src
        assert "_keys = ['integrationKey']" in src
        assert "_defaultBasePath = '/odata2webservices/WebhookService'" in src
        for prop in t.findall(q(EDM, "Property")):
            assert re.search(rf"declare {prop.get('Name')}\??:", src), (cls, prop.get("Name"))
        for nav in t.findall(q(EDM, "NavigationProperty")):
            name = nav.get("Name")
            assert re.search(rf"declare {name}\??:", src), (cls, name)
            to = [e for e in assocs[unqualify(nav.get("Relationship"))].findall(q(EDM, "End"))
                  if e.get("Role") == nav.get("ToRole")][0]
            link = "Link" if to.get("Multiplicity") == "*" else "OneToOneLink"
            assert re.search(rf"new {link}\(\s*'{name}'", api), (cls, name, link)
    assert (svc / "service.ts").exists() and (svc / "BatchRequest.ts").exists()
