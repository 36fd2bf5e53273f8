Feature: Production rules
  Seed 004 ("THIS IS PRODUCTION"): "Multi-region: Primary in East US, DR in
  West US", "Redundancy: GRS or GZRS", "Zone Redundancy: All services across
  3+ zones", "Destroy: Forbidden (requires exception)", "Maintenance
  Windows: Sundays 2-6 AM EST", and releases reach production through
  staging.

  Scenario Outline: the production rules hold for <estate> in <env>
    Given the "<estate>" estate in the "<env>" environment
    Then the production rules hold

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

  Scenario Outline: a data service that stops replicating to the DR region in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a stateful service stops replicating to the DR region
    Then the "prod.multi-region" check fails, naming the broken resource

    Examples:
      | estate       | env  |
      | chatwoot     | prod |
      | chaufher     | prod |
      | vc-reporting | prod |

  Scenario Outline: a single-zone resource in <estate> prod is caught
    Given the "<estate>" estate in the "prod" environment
    When the estate is broken: a zonal resource is pinned to a single zone
    Then the "prod.zone-redundancy" check fails, naming the broken resource

    Examples:
      | estate          |
      | chatwoot        |
      | chaufher        |
      | openai-platform |
      | vc-reporting    |

  Scenario Outline: production without destroy protection is caught for <estate>
    Given the "<estate>" estate in the "prod" environment
    When the estate is broken: the environment's destroy protection is lifted
    Then the "prod.destroy-protection" check fails, naming the broken resource

    Examples:
      | estate          |
      | chatwoot        |
      | openai-platform |

  Scenario: a change outside the maintenance window is refused and nothing is stored
    Given release "v1.0.0" of the "chatwoot" estate runs in "staging"
    When release "v1.0.0" is applied to "prod" outside the maintenance window
    Then the command is refused by "prod.maintenance-window"
    And the stored state is unchanged

  Scenario: a release that has not passed staging is refused in production
    Given release "v1.0.0" of the "vc-reporting" estate runs in "dev"
    When release "v1.0.0" is applied to "prod" straight away
    Then the command is refused by "prod.promotion-gate"
    And the stored state is unchanged
