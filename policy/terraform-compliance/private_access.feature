Feature: Data services are reached over private endpoints only
  Seeds 001-003: PostgreSQL, Redis, Key Vault and the container registry take
  no traffic from the public internet.

  Scenario Outline: <type> refuses public network access
    Given I have <type> defined
    Then it must contain public_network_access_enabled
    And its value must be false

    Examples:
      | type                                      |
      | Microsoft.DBforPostgreSQL/flexibleServers |
      | Microsoft.Cache/redis                     |
      | Microsoft.KeyVault/vaults                 |
      | Microsoft.ContainerRegistry/registries    |
