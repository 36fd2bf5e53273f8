Feature: Security baseline
  Seed 000: "TLS 1.2+ enforced everywhere", "Key Vault RBAC authorization";
  seed 001: "HTTPS only, TLS 1.2+", "Key Vault | RBAC, soft-delete, purge
  protection", "Diagnostic settings", "Secrets use Key Vault references (no
  hardcoded values)"; seed 002: "Diagnostic settings for all resources".

  Scenario Outline: the security baseline holds for <estate> in <env>
    Given the "<estate>" estate in the "<env>" environment
    Then the security baseline holds

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

  Scenario Outline: TLS 1.0 in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a service accepts TLS 1.0
    Then the "security.tls" check fails, naming the broken resource

    Examples:
      | estate       | env  |
      | chatwoot     | prod |
      | chaufher     | dev  |
      | vc-reporting | prod |

  Scenario Outline: plain HTTP in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a storage account or web app accepts plain HTTP
    Then the "security.https-only" check fails, naming the broken resource

    Examples:
      | estate       | env     |
      | chatwoot     | dev     |
      | chaufher     | prod    |
      | vc-reporting | staging |

  Scenario Outline: a Key Vault without purge protection in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a Key Vault's purge protection is turned off
    Then the "security.key-vault" check fails, naming the broken resource

    Examples:
      | estate          | env  |
      | chatwoot        | prod |
      | chaufher        | prod |
      | openai-platform | prod |
      | vc-reporting    | prod |

  Scenario Outline: missing diagnostic settings in <estate>/<env> are caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a resource's diagnostic settings are removed
    Then the "security.diagnostics" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | dev     |
      | chaufher        | staging |
      | openai-platform | prod    |
      | vc-reporting    | prod    |

  Scenario Outline: a literal password in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a password is written into a resource as a literal
    Then the "security.no-secret-literals" check fails, naming the broken resource

    Examples:
      | estate          | env  |
      | chatwoot        | prod |
      | openai-platform | dev  |
