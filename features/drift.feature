Feature: Drift
  An out-of-band change in the cloud (a portal edit, a deleted resource) is
  reported by `statectl drift`, and `statectl drift --fix` brings the cloud
  back to the release.

  Scenario Outline: a portal edit to <address> in <estate> is found and fixed
    Given release "v1.0.0" of the "<estate>" estate runs in "dev"
    When "<address>" is changed out of band: "<change>"
    Then drift is reported on "<address>"
    When the drift is fixed
    Then nothing has drifted

    Examples:
      | estate          | address           | change                       |
      | chatwoot        | data.redis        | capacity=3                   |
      | chaufher        | data.redis        | minimum_tls_version=1.0      |
      | openai-platform | key_vault.vault   | purge_protection_enabled=false |
      | vc-reporting    | database.postgres | version=11                   |

  Scenario: a resource deleted out of band is found and re-created
    Given release "v1.0.0" of the "chatwoot" estate runs in "dev"
    When "monitoring.alert_node_cpu" is deleted out of band
    Then drift is reported on "monitoring.alert_node_cpu"
    When the drift is fixed
    Then nothing has drifted

  Scenario: a failed operation leaves a partial generation, and re-applying converges
    Given a working copy of the "chaufher" estate
    And release "v1.0.0" is promoted to "dev"
    When the specs change the "release-train" tag of every resource to "2026-12"
    And the cloud fails operation 5 of the next apply
    And release "v1.1.0" is applied to "dev" and fails
    Then the last generation is "partial" and keeps what was applied
    When release "v1.1.0" is applied to "dev"
    Then the stack runs release "v1.1.0"
    And nothing has drifted
