# octavia-infra: every command a user or CI runs. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
STACK ?= local
SECRETS_PROVIDER ?= passphrase
LOCAL_PASSPHRASE := local-devcloud-only
# The one place the local stack (the devcloud's) is told apart from every other stack.
ifeq ($(STACK),local)
# Its secrets use a published passphrase, and the first preview or up creates it.
PULUMI := source tools/env.sh && PULUMI_CONFIG_PASSPHRASE="$${PULUMI_CONFIG_PASSPHRASE:-$(LOCAL_PASSPHRASE)}" pulumi
USE_STACK := $(PULUMI) stack select --create $(STACK)
OWN_SECRETS := true
else
# Any other stack is used as it exists in the backend (`make stack-init` creates it), with the
# operator's own secrets provider or passphrase (PULUMI_CONFIG_PASSPHRASE[_FILE]).
PULUMI := source tools/env.sh && pulumi
define USE_STACK
source tools/env.sh; \
if ! err="$$(pulumi stack select $(STACK) 2>&1)"; then \
  [[ $$err == *"no stack named"* ]] || { echo "$$err" >&2; exit 1; }; \
  backend="$$(sed -E 's|(://[^/:@]*):[^/@]*@|\1:[credential]@|' <<< "$$PULUMI_BACKEND_URL")"; \
  echo "stack '$(STACK)' does not exist in $$backend; create it with:" \
    "make stack-init STACK=$(STACK) SECRETS_PROVIDER=<passphrase|awskms://...|hashivault://...> (or pulumi stack init)" >&2; \
  exit 1; \
fi
endef
# A passphrase-protected stack needs a passphrase of its own: set, not empty, not the devcloud's.
define OWN_SECRETS
if [ "$(SECRETS_PROVIDER)" = passphrase ]; then \
  if [ -n "$${PULUMI_CONFIG_PASSPHRASE+set}" ]; then phrase="$$PULUMI_CONFIG_PASSPHRASE"; \
  elif [ -n "$${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then phrase="$$(< "$$PULUMI_CONFIG_PASSPHRASE_FILE")"; \
  else phrase=""; fi; \
  if [[ $$phrase =~ ^[[:space:]]*($(LOCAL_PASSPHRASE))?[[:space:]]*$$ ]]; then \
    echo "stack '$(STACK)' needs a passphrase of its own (not the devcloud's $(LOCAL_PASSPHRASE)): set" \
      "PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE, or use SECRETS_PROVIDER=awskms://...|hashivault://..." >&2; \
    exit 1; \
  fi; \
fi
endef
endif
# Values still in the string forms of before structured config, shown rewritten (Pulumi's own
# type check would stop them with a bare type message).
CHECK_STACK := .venv/bin/python -m tools.check_stack stacks/Pulumi.$(STACK).yaml
# Every preview and up runs the policy pack (policy/README.md).
POLICY := --policy-pack policy

.PHONY: amphora-image amphora-image-preflight from-osa help quickstart preview-md pg-state setup devcloud devcloud-stop devcloud-status devcloud-reset devcloud-octavia stack-init up preview destroy recover outputs test bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 26

quickstart: setup devcloud up  ## everything from a fresh clone: set-up, devcloud, `pulumi up` of the local stack

setup:  ## .venv with pinned Python packages, and the Pulumi engine in bin/
	tools/setup.sh

devcloud:  ## start the local OpenStack (idempotent)
	python3 devcloud/devcloud.py start

devcloud-stop:  ## stop the local OpenStack
	python3 devcloud/devcloud.py stop

devcloud-status:  ## each devcloud service with pid, port and health
	python3 devcloud/devcloud.py status

devcloud-reset:  ## stop the devcloud and wipe its databases and image store
	python3 devcloud/devcloud.py reset

devcloud-octavia:  ## configure the devcloud's Octavia from STACK's outputs and restart it
	@$(USE_STACK)
	outputs="$$($(PULUMI) stack output --json --show-secrets --stack $(STACK))" && \
	  python3 devcloud/devcloud.py apply-stack - <<< "$$outputs"

# The local stack uploads a small real qcow2 (Glance checks the format of what it stores).
.state/amphora-test.qcow2:
	mkdir -p .state && qemu-img create -q -f qcow2 $@ 64M

stack-init:  ## create STACK with SECRETS_PROVIDER (default passphrase: your own, from PULUMI_CONFIG_PASSPHRASE[_FILE])
	@$(OWN_SECRETS)
	$(PULUMI) stack init $(STACK) --secrets-provider '$(SECRETS_PROVIDER)'

up: .state/amphora-test.qcow2  ## pulumi up of STACK (default local), then its outputs
	@$(USE_STACK)
	@$(CHECK_STACK)
	@# Pending creates of a killed pulumi would be created again (tools/recover.py, make recover).
	@$(patsubst pulumi,,$(PULUMI)) .venv/bin/python -m tools.recover --check --stack $(STACK)
	@# tools/failure_summary.py: a failed run ends with the failing resources and the cloud's errors.
	$(PULUMI) up --yes $(POLICY) --stack $(STACK) 2>&1 | .venv/bin/python -m tools.failure_summary up && $(PULUMI) stack output --stack $(STACK)

preview: .state/amphora-test.qcow2  ## pulumi preview --diff of STACK
	@$(USE_STACK)
	@$(CHECK_STACK)
	$(PULUMI) preview --diff $(POLICY) --stack $(STACK) 2>&1 | .venv/bin/python -m tools.failure_summary preview

preview-md: .state/amphora-test.qcow2  ## Markdown summary of STACK's preview (for CI comments)
	@$(USE_STACK) >&2
	@$(CHECK_STACK)
	@# The plan holds the stack outputs' diff (secrets encrypted), which the preview JSON lacks.
	plan="$$(mktemp)"; trap 'rm -f "$$plan"' EXIT; \
	$(PULUMI) preview --json $(POLICY) --stack $(STACK) --save-plan "$$plan" \
	  | .venv/bin/python tools/preview_summary.py --title $(STACK) --plan "$$plan"

destroy:  ## pulumi destroy of STACK
	@$(USE_STACK)
	$(PULUMI) destroy --yes --stack $(STACK)

# After a killed `pulumi` (docs/runbook.md, "Recover from a failed pulumi up"): tools/recover.py.
recover:  ## after a killed pulumi: release its stale lock, settle pending creates with the cloud, refresh STACK
	@$(USE_STACK)
	$(patsubst pulumi,,$(PULUMI)) .venv/bin/python -m tools.recover --stack $(STACK)

outputs:  ## the outputs of STACK (secrets shown: use with care)
	@$(USE_STACK)
	$(PULUMI) stack output --stack $(STACK) --show-secrets

test: setup devcloud  ## the whole test suite (unit, engine, devcloud, end to end)
	.venv/bin/python -m pytest || { s=$$?; [ $$s != 5 ] || echo "pytest collected no tests" >&2; exit $$s; }

bench: setup devcloud  ## side-by-side benchmarks, then load balancers built by Octavia (benchmarks/README.md)
	.venv/bin/python benchmarks/run.py
	.venv/bin/python benchmarks/loadbalancer_times.py

# The amphora image (tools/amphora_image, docs/amphora-image.md) needs root, loop devices and the
# base OS's mirrors. ARGS passes options, e.g. ARGS="--fips --base-os rocky".
amphora-image:  ## build a production amphora image + manifest in build/amphora (root; ARGS=...)
	python3 -m tools.amphora_image build $(ARGS)

amphora-image-preflight:  ## what this host lacks to build the amphora image, one line each
	python3 -m tools.amphora_image preflight $(ARGS)

# A stack file from an OpenStack-Ansible deployment (tools/from_osa.py): FILE= its user_variables
# file(s), USER_CONFIG= its openstack_user_config.yml, ARGS= e.g. "--health-manager infra1=172.29.232.11".
# STACK= given to make writes stacks/Pulumi.$(STACK).yaml; without it the file goes to standard output.
from-osa:  ## stack file from OpenStack-Ansible user_variables (FILE=... [USER_CONFIG=...] [STACK=...] [ARGS=...])
	@[ -n "$(FILE)" ] || { echo "usage: make from-osa FILE='user_variables.yml ...' [USER_CONFIG=openstack_user_config.yml] [STACK=name] [ARGS=...]" >&2; exit 2; }
	.venv/bin/python -m tools.from_osa $(FILE) $(if $(USER_CONFIG),--user-config $(USER_CONFIG)) $(if $(filter command line environment,$(origin STACK)),--stack $(STACK)) $(ARGS)

# Import what OpenStack-Ansible (FROM=osa) or kolla-ansible (FROM=kolla) made into STACK before its
# first up (tools/adopt.py; docs/runbook.md, "Adopt resources created by ..."). ARGS= e.g.
# "--vars /etc/openstack_deploy/user_variables.yml --dry-run".
.PHONY: adopt
adopt:  ## import OSA/kolla's security groups, flavor, image, ports into STACK (FROM=osa|kolla, ARGS=...)
	@$(USE_STACK)
	$(patsubst pulumi,,$(PULUMI)) .venv/bin/python -m tools.adopt --stack $(STACK) --from $(or $(FROM),osa) $(ARGS)

pg-state:  ## a local PostgreSQL for trying the team state backend (tools/pg_state.py)
	python3 tools/pg_state.py start

clean:  ## remove bin/, .venv and the local state (not the devcloud: see devcloud-reset)
	rm -rf bin .venv .state
