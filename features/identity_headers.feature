@security @headers
Feature: Identity headers cannot be forged by the client
  The backend trusts X-SSL-Client-Verify and friends because only the load balancer sets them.
  A client that sends its own copies must never see them reach the backend.

  @mandatory
  Scenario: Forged identity headers are dropped for a verified client
    Given the client presents the "ca-signed" certificate
    When the client calls the echo endpoint with forged identity headers
    Then the request is accepted
    And none of the forged header values reach the backend

  @optional
  Scenario: Forged identity headers are dropped for a client without a certificate
    Given the client presents no certificate
    When the client calls the echo endpoint with forged identity headers
    Then the request is accepted
    And none of the forged header values reach the backend
