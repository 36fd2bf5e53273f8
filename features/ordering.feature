Feature: Dependency ordering
  Seed 000: "Private DNS zones created before private endpoints", "SSL
  certificate created in Key Vault before Application Gateway", "RBAC
  assignments after resource creation", "Proper dependency ordering to
  prevent race conditions". The rules hold in the dependency graph, and no
  plan schedules an operation before what it depends on.

  Scenario Outline: the dependencies of <estate> in <env> are ordered
    Given the "<estate>" estate in the "<env>" environment
    Then every dependency the seeds name is ordered
    And no plan schedules an operation before its dependencies

    Examples:
      | estate          | env     |
      | chatwoot        | dev     |
      | chatwoot        | staging |
      | chatwoot        | prod    |
      | chaufher        | dev     |
      | chaufher        | staging |
      | chaufher        | prod    |
      | openai-platform | dev     |
      | openai-platform | staging |
      | openai-platform | prod    |
      | vc-reporting    | dev     |
      | vc-reporting    | staging |
      | vc-reporting    | prod    |

  Scenario Outline: a private endpoint that no longer waits for its DNS zone link in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a private endpoint's depends_on on its DNS zone link is dropped
    Then the "ordering.dns-before-endpoint" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | chaufher        | staging |
      | openai-platform | dev     |
      | vc-reporting    | prod    |

  Scenario Outline: a gateway that no longer waits for its Key Vault access in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: the Application Gateway's depends_on on its Key Vault access is dropped
    Then the "ordering.certificate-before-gateway" check fails, naming the broken resource

    Examples:
      | estate          | env  |
      | chatwoot        | prod |
      | openai-platform | dev  |

  Scenario Outline: a role assignment with a hard-coded scope in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a role assignment's scope is hard-coded instead of referenced
    Then the "ordering.rbac-after-resources" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | dev     |
      | chaufher        | prod    |
      | openai-platform | staging |
      | vc-reporting    | dev     |

  Scenario: a node pool with a hard-coded cluster is caught
    Given the "chatwoot" estate in the "prod" environment
    When the estate is broken: a node pool's cluster is hard-coded instead of referenced
    Then the "ordering.nodepool-after-cluster" check fails, naming the broken resource

  Scenario Outline: a plan that runs an action before what it needs is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When an action of its first-apply plan is moved before what it needs
    Then the plan-order check names the moved action

    Examples:
      | estate          | env  |
      | chatwoot        | prod |
      | chaufher        | dev  |
      | openai-platform | prod |
      | vc-reporting    | dev  |
