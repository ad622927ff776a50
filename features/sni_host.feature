@mandatory @security
Feature: SNI and Host cannot dodge client certificate verification
  A load balancer picks its TLS settings by the SNI of the handshake and its route by the
  Host header. When the two disagree, a request can land on a site that never asked for a
  client certificate and still be routed to the protected API (a known bypass on setups
  with several server names). A refusal of any kind (421, 400, a TLS alert) is fine; reaching
  the backend without a valid certificate is not.

  @smoke
  Scenario: A request without SNI and without a certificate does not reach the backend
    Given the client presents no certificate
    When the client calls the API without SNI
    Then the request does not reach the backend

  Scenario: A request whose SNI names another host does not reach the backend without a certificate
    Given the client presents no certificate
    When the client calls the API with SNI naming another host
    Then the request does not reach the backend
