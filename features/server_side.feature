@server
Feature: The load balancer's own side of TLS
  The client side of mutual TLS is only as good as the server side: the load balancer's own
  certificate must be valid for its host name, chain to the trust the clients use and not be
  about to expire, and legacy protocol versions must be refused.

  @smoke
  Scenario: The server certificate is valid for the host and not about to expire
    When the client checks the target's server certificate
    Then it is valid for the host name and chains to the trusted CA
    And it does not expire within the warning period

  Scenario Outline: TLS <version> is refused
    When the client offers only TLS <version>
    Then the handshake is refused

    Examples:
      | version |
      | 1.0     |
      | 1.1     |
