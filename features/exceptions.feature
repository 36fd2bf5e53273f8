Feature: Policy exceptions
  A finding the seeds accept is covered by an explicit exception in
  specs/<estate>/exceptions.toml, with a justification, an approver and an
  expiry date. Until it expires the finding is reported as excepted; after,
  it fails again.

  Scenario Outline: an accepted gap in <estate>/<env> is excepted, not hidden
    Given the "<estate>" estate in the "<env>" environment
    And the date is "2026-11-23"
    Then the "<rule>" finding on "<address>" is excepted
    And every rule passes

    Examples:
      | estate       | env     | rule                  | address               |
      | chaufher     | prod    | recovery.rpo          | data.redis            |
      | chaufher     | dev     | private.public-access | data.rdb              |
      | chatwoot     | prod    | prod.multi-region     | data.uploads          |
      | chatwoot     | staging | private.endpoint      | data.redis            |
      | vc-reporting | dev     | recovery.rpo          | function_app.storage  |

  Scenario Outline: an expired exception in <estate>/<env> fails again
    Given the "<estate>" estate in the "<env>" environment
    And the date is "2027-07-01"
    Then the "<rule>" finding on "<address>" fails because its exception expired

    Examples:
      | estate       | env  | rule              | address              |
      | chaufher     | prod | recovery.rpo      | data.redis           |
      | chatwoot     | prod | prod.multi-region | data.redis           |
      | vc-reporting | dev  | recovery.rpo      | function_app.storage |
