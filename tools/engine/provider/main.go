// pulumi-resource-openstack: the OpenStack resource plugin the pulumi-openstack Python SDK drives.
//
// It bridges terraform-provider-openstack (the provider the pulumi-openstack release of the same
// version wraps) with pulumi-terraform-bridge. Resource and function tokens are not guessed: they
// are matched against the tokens of the installed pulumi-openstack SDK (generated/tokens.json,
// written at build time by sdk_tokens.py), so every class the SDK offers reaches its Terraform
// resource. Terraform resources the SDK does not name get a standard token in the index module.
//
// The plugin exits once the engine that started it is gone (engine_watch_linux.go).
package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-provider-openstack/terraform-provider-openstack/v3/openstack"
)

// version is set at build time (-ldflags -X main.version=...) to the SDK's plugin version.
var version = "0.0.0-dev"

//go:embed generated/tokens.json
var sdkTokensJSON []byte

// Provider settings read from the environment when the stack config leaves them unset, as
// openstack clients do (OS_CLOUD selects an entry of clouds.yaml).
var configEnvVars = map[string]string{
	"region":        "OS_REGION_NAME",
	"insecure":      "OS_INSECURE",
	"endpoint_type": "OS_ENDPOINT_TYPE",
	"swauth":        "OS_SWAUTH",
	"cloud":         "OS_CLOUD",
	"delayed_auth":  "OS_DELAYED_AUTH",
	"allow_reauth":  "OS_ALLOW_REAUTH",
}

// Property names the SDK spells differently from the bridge's default camelCase.
var renamedFields = map[string]map[string]string{
	"openstack_networking_subnet_v2":   {"allocation_pool": "allocationPools"},
	"openstack_orchestration_stack_v1": {"outputs": "stackOutputs"},
}

// SDK names no rule derives (spelled so upstream); used when the SDK has them.
var irregularTokens = map[string]string{
	"openstack_blockstorage_quotaset_v3":               "openstack:blockstorage/quoteSetV3:QuoteSetV3",
	"openstack_objectstorage_object_v1":                "openstack:objectstorage/containerObject:ContainerObject",
	"openstack_dns_zone_v2":                            "openstack:dns/getDnsZone:getDnsZone",
	"openstack_loadbalancer_flavor_v2":                 "openstack:loadbalancer/getLbFlavorDeprecated:getLbFlavorDeprecated",
	"openstack_sharedfilesystem_availability_zones_v2": "openstack:sharedfilesystem/getAvailbilityZones:getAvailbilityZones",
}

// Terraform name prefixes whose SDK module has another name.
var moduleAliases = map[string]string{"lb": "loadbalancer", "db": "database", "fw": "firewall"}

var versionSuffix = regexp.MustCompile(`v\d+$`)

func main() {
	exitWhenEngineGone()
	prov := tfbridge.ProviderInfo{
		P:       shimv2.NewProvider(openstack.Provider()),
		Name:    "openstack",
		Version: version,
		Config:  map[string]*tfbridge.SchemaInfo{},
	}
	for key, envVar := range configEnvVars {
		prov.Config[key] = &tfbridge.SchemaInfo{Default: &tfbridge.DefaultInfo{EnvVars: []string{envVar}}}
	}

	var sdk struct{ Resources, Functions []string }
	if err := json.Unmarshal(sdkTokensJSON, &sdk); err != nil {
		panic(fmt.Sprintf("generated/tokens.json: %v", err))
	}
	resources := newTokenIndex(sdk.Resources, "")
	functions := newTokenIndex(sdk.Functions, "get")

	prov.MustComputeTokens(tfbridge.Strategy{
		Resource: func(tfName string, r *tfbridge.ResourceInfo) error {
			r.Tok = tokens.Type(resources.token(tfName, false))
			for field, name := range renamedFields[tfName] {
				if r.Fields == nil {
					r.Fields = map[string]*tfbridge.SchemaInfo{}
				}
				r.Fields[field] = &tfbridge.SchemaInfo{Name: name}
			}
			return nil
		},
		DataSource: func(tfName string, d *tfbridge.DataSourceInfo) error {
			d.Tok = tokens.ModuleMember(functions.token(tfName, true))
			return nil
		},
	})
	prov.SetAutonaming(255, "-")

	schema := fmt.Sprintf(`{"name":"openstack","version":%q}`, version)
	tfbridge.Main("openstack", version, prov, []byte(schema))
}

// tokenIndex finds the SDK token of a Terraform resource by comparing names with case and
// underscores removed: openstack_networking_secgroup_rule_v2 ~ networking/secGroupRule.
type tokenIndex struct {
	byKey map[string]string
	known map[string]bool
	used  map[string]bool
}

func newTokenIndex(tokens []string, namePrefix string) *tokenIndex {
	idx := &tokenIndex{byKey: map[string]string{}, known: map[string]bool{}, used: map[string]bool{}}
	for _, tok := range tokens {
		idx.known[tok] = true
		// openstack:<module>/<member>:<Name>
		parts := strings.Split(tok, ":")
		module, member, _ := strings.Cut(parts[1], "/")
		key := module + "/" + strings.ToLower(strings.TrimPrefix(member, namePrefix))
		if _, taken := idx.byKey[key]; !taken {
			idx.byKey[key] = tok
		}
	}
	return idx
}

func (idx *tokenIndex) module(tfName string) string {
	prefix, _, _ := strings.Cut(strings.TrimPrefix(tfName, "openstack_"), "_")
	if alias, ok := moduleAliases[prefix]; ok {
		return alias
	}
	return prefix
}

func (idx *tokenIndex) token(tfName string, isFunction bool) string {
	if tok, ok := irregularTokens[tfName]; ok && idx.known[tok] && !idx.used[tok] {
		idx.used[tok] = true
		return tok
	}
	rest := strings.TrimPrefix(tfName, "openstack_")
	prefix, name, _ := strings.Cut(rest, "_")
	compact := strings.ReplaceAll(name, "_", "")
	module := idx.module(tfName)
	for _, key := range []string{
		module + "/" + compact,
		module + "/" + versionSuffix.ReplaceAllString(compact, ""),
		"index/" + prefix + compact,
	} {
		if tok, ok := idx.byKey[key]; ok && !idx.used[tok] {
			idx.used[tok] = true
			return tok
		}
	}
	return standardToken(rest, isFunction)
}

// standardToken names a Terraform resource the SDK lacks: openstack:index/fooBarV2:FooBarV2.
func standardToken(rest string, isFunction bool) string {
	var camel strings.Builder
	for _, word := range strings.Split(rest, "_") {
		if word != "" {
			camel.WriteString(strings.ToUpper(word[:1]) + word[1:])
		}
	}
	name := camel.String()
	if isFunction {
		member := "get" + name
		return "openstack:index/" + member + ":" + member
	}
	return "openstack:index/" + strings.ToLower(name[:1]) + name[1:] + ":" + name
}
