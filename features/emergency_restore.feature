Feature: Emergency restore
  When a data service is lost, `statectl apply --replace ADDR --target ADDR
  --allow-data-loss --emergency --reason ...` brings it back from its
  backups (point-in-time restore, the last snapshot, the geo-replica, or a
  soft-deleted vault), outside the maintenance window if it must, records
  each restore's recovery point and time in the generation, and leaves the
  cloud equal to the release.

  Scenario Outline: <lost> in <estate> prod come back from backups and nothing drifts
    Given release "v1.0.0" of the "<estate>" estate runs in "prod"
    When "<lost>" are lost 5 hours after the apply and restored with replace
    Then the last generation is a "emergency"
    And the stack runs release "v1.0.0"
    And nothing has drifted

    Examples:
      | estate          | lost                          |
      | chatwoot        | data.postgres, data.redis     |
      | chaufher        | data.cosmos                   |
      | openai-platform | key_vault.vault               |
      | vc-reporting    | database.postgres             |

  Scenario: a storage account without a geo-replica cannot be restored, and says why
    Given release "v1.0.0" of the "chatwoot" estate runs in "dev"
    When "data.uploads" is lost and its restore is attempted
    Then the command fails saying "there is no geo-replica to fail over to"
