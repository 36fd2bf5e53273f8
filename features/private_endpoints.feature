Feature: Private-only endpoints
  Seed 000: "All data services use private endpoints", "All private DNS zones
  linked to AKS VNet", "Private cluster with no public access"; seed 004:
  "Private Endpoints: No public exposure"; seed 001: "no public storage".
  Every data service the catalog marks (PostgreSQL, Redis, Storage, Key
  Vault, Container Registry, Cosmos DB, Azure OpenAI and the rest) disables
  public network access and has a private endpoint registered in the right
  privatelink zone, linked to the VNet the endpoint lives in.

  Scenario Outline: every data service of <estate> in <env> is private
    Given the "<estate>" estate in the "<env>" environment
    Then every data service is reachable only through a private endpoint

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

  Scenario Outline: a data service open to the internet in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a data service allows public network access
    Then the "private.public-access" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | prod    |
      | chaufher        | dev     |
      | openai-platform | staging |
      | vc-reporting    | prod    |

  Scenario Outline: a private endpoint outside its privatelink zone in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a private endpoint is left out of its privatelink DNS zone
    Then the "private.endpoint" check fails, naming the broken resource

    Examples:
      | estate          | env  |
      | chatwoot        | dev  |
      | chaufher        | prod |
      | openai-platform | prod |
      | vc-reporting    | dev  |

  Scenario: a public AKS API server is caught
    Given the "chatwoot" estate in the "prod" environment
    When the estate is broken: the AKS cluster gets a public API server
    Then the "private.aks" check fails, naming the broken resource

  Scenario Outline: a public blob container in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a blob container allows anonymous public access
    Then the "private.containers" check fails, naming the broken resource

    Examples:
      | estate       | env     |
      | chatwoot     | staging |
      | chaufher     | prod    |
      | vc-reporting | prod    |
