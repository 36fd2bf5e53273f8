Feature: Guarantees the estates cannot loosen
  The organisation's baseline (policy/baseline.toml) holds what the seeds
  state: seed 004 for production ("Private Endpoints: No public exposure",
  "Destroy: Forbidden", "Maintenance Windows: Sundays 2-6 AM EST", "State
  backup before every apply", "Multi-region: Primary in East US, DR in West
  US", "RPO < 4 hours") and each estate's own seed (seed 000 "AcrPull role
  assigned to AKS kubelet identity", "Container image scanning enabled",
  "365-day retention"; seed 001 "RTO: 1 hour", "every 90 days"; seed 002
  "federated credentials for GitHub Actions and Azure DevOps"). An estate or
  environment may be stricter; every loosening below is caught by the rule
  of the guarantee it weakens, naming what it broke.

  Scenario Outline: the baseline holds for <estate> in <env>
    Given the "<estate>" estate in the "<env>" environment
    Then every rule passes

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | chaufher        | prod    |
      | openai-platform | prod    |
      | vc-reporting    | prod    |

  Scenario Outline: an estate that loosens its own RPO is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: the estate's declared RPO is loosened to 30 days
    Then the "recovery.rpo" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | dev     |
      | vc-reporting    | prod    |

  Scenario Outline: an estate that stops requiring a tag is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: the estate stops requiring the owner tag
    Then the "tags.required" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chaufher        | staging |
      | openai-platform | prod    |

  Scenario Outline: a production database without its standby is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a database loses its high-availability standby
    Then the "prod.high-availability" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chaufher        | prod    |
      | vc-reporting    | prod    |

  Scenario Outline: a DR region moved away from the seed's is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: the DR region is moved to Europe
    Then the "prod.regions" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | chaufher        | prod    |

  Scenario Outline: production that allows public endpoints is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: the environment stops requiring private endpoints only
    Then the "prod.private-only" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | openai-platform | prod    |

  Scenario Outline: a maintenance window opened to the whole week is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: the maintenance window is opened to the whole week
    Then the "prod.maintenance-window" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | vc-reporting    | prod    |

  Scenario Outline: an environment that skips promotion is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: the environment stops requiring promotion
    Then the "prod.promotion-gate" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | staging |
      | chaufher        | prod    |

  Scenario Outline: production without a state backup before apply is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: the state backup before every apply is switched off
    Then the "prod.backup-before-apply" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |

  Scenario Outline: production state kept 1 day is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: state retention is cut to 1 day
    Then the "prod.state-retention" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | openai-platform | prod    |

  Scenario Outline: a subnet without its NSG is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a subnet loses its network security group
    Then the "security.nsg" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | dev     |
      | chaufher        | prod    |
      | openai-platform | staging |
      | vc-reporting    | prod    |

  Scenario Outline: a registry that stops scanning images is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a container registry stops scanning images
    Then the "security.image-scanning" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | openai-platform | dev     |

  Scenario Outline: a WAF that only detects is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a WAF policy is switched to Detection mode
    Then the "security.waf" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | openai-platform | prod    |

  Scenario Outline: a Key Vault with 7 days of soft delete is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a Key Vault keeps deleted secrets only 7 days
    Then the "security.key-vault" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chaufher        | dev     |
      | vc-reporting    | prod    |

  Scenario Outline: a secret without rotation is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a secret loses its rotation policy
    Then the "security.rotation" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chaufher        | prod    |

  Scenario Outline: logs kept 30 days is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a Log Analytics workspace keeps logs 30 days
    Then the "security.log-retention" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | chaufher        | dev     |

  Scenario Outline: database backups kept 7 days is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a database keeps its backups 7 days
    Then the "recovery.backup-retention" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | dev     |
      | vc-reporting    | prod    |

  Scenario Outline: a required role assignment deleted is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a role assignment the seed requires is deleted
    Then the "identity.roles" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | chaufher        | staging |
      | openai-platform | prod    |
      | vc-reporting    | dev     |

  Scenario Outline: a required OIDC federated credential deleted is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a federated credential the seed requires is deleted
    Then the "identity.oidc" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | dev     |
      | chaufher        | prod    |
      | openai-platform | prod    |

  Scenario Outline: a service opened to shared keys is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a service is opened to shared keys or an admin user
    Then the "security.local-auth" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | chaufher        | dev     |
      | openai-platform | staging |

  Scenario Outline: an alert that notifies no one is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: an alert stops notifying its action group
    Then the "monitoring.alerts" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | chaufher        | staging |
      | openai-platform | dev     |
      | vc-reporting    | prod    |

  Scenario Outline: a required alert deleted is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: an alert the seed requires is deleted
    Then the "monitoring.alerts" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | openai-platform | prod    |

  Scenario Outline: a resource named outside the convention is caught in <estate>/<env>
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a resource is named outside the naming convention
    Then the "naming.convention" check fails, naming the broken resource

    Examples:
      | estate   | env     |
      | chaufher | prod    |
      | chaufher | dev     |
