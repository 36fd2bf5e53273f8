Feature: Recovery objectives (RTO and RPO)
  Each estate promises a recovery time and a recovery point: chatwoot 4 h /
  4 h (seed 000), chaufher 1 h / 15 min (seed 001), and in production an RPO
  under 4 h (seed 004). Statically, every stateful resource's backups bound
  its worst-case data loss, and the estate's critical path bounds its
  rebuild. Drills measure both on the simulator's clock: the data services
  are lost after a release has run for a while and restored from their
  backups with an emergency replace.

  Scenario Outline: the backups of <estate> in <env> meet its objectives
    Given the "<estate>" estate in the "<env>" environment
    Then the backups meet the RPO and the estate can be rebuilt within the RTO

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

  Scenario Outline: a drill in <estate> prod restores <lost> within the objectives
    Given release "v1.0.0" of the "<estate>" estate runs in "prod"
    When "<lost>" are lost and restored with replace
    Then the recovery takes at most <rto> and loses at most <rpo> of data
    And the recovery takes at most <rto> and loses less than 4 hours of data
    And the drill meets the estate's RTO and RPO

    Examples:
      | estate          | lost                                      | rto     | rpo        |
      | chatwoot        | data.postgres, data.redis, data.backups   | 4 hours | 4 hours    |
      | chaufher        | data.postgres, data.cosmos, data.files    | 1 hour  | 15 minutes |
      | openai-platform | key_vault.vault                           | 4 hours | 4 hours    |
      | vc-reporting    | database.postgres, storage.data           | 4 hours | 4 hours    |

  Scenario: a drill of chatwoot's data module in staging meets the objectives
    Given release "v1.0.0" of the "chatwoot" estate runs in "staging"
    When the module "data" is lost and restored with replace
    Then the recovery takes at most 4 hours and loses at most 4 hours of data
    And the drill meets the estate's RTO and RPO

  Scenario Outline: backups slower than the RPO in <estate>/<env> are caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a stateful service is backed up less often than the RPO
    Then the "recovery.rpo" check fails, naming the broken resource

    Examples:
      | estate       | env  |
      | chatwoot     | prod |
      | chaufher     | dev  |
      | vc-reporting | prod |

  Scenario Outline: an RTO the critical path cannot meet in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: the RTO objective is cut to 1 minute
    Then the "recovery.rto" check fails, naming the broken resource

    Examples:
      | estate          | env  |
      | chatwoot        | prod |
      | openai-platform | dev  |

  Scenario: a drill of a cache snapshotted once a day misses the RPO
    Given a working copy of the "chatwoot" estate
    And the specs set "rdb_backup_frequency_minutes" of "data.redis" to 1440
    Then promoting release "v1.0.0" to "prod" is refused by the "recovery.rpo" check
    Given release "v1.0.0" is promoted to "prod" past the gate, because "drill of a known-bad backup setting"
    When "data.redis" is lost 23 hours after the apply and restored with replace
    Then the drill misses the estate's RPO
