Feature: Certificate purpose and chains
  A client certificate counts only for client authentication (its extended key usage says
  clientAuth) and only with a chain that leads to the truststore. A leaf issued under an
  intermediate CA of the trusted CA is accepted when the client sends the intermediate.

  @mandatory
  Scenario: A certificate meant for servers only is refused
    Given the client presents the "wrong-eku" certificate
    When the client calls the API
    Then the request is refused

  @mandatory
  Scenario: A leaf under an intermediate CA is accepted when the client sends the chain
    Given the client presents the "intermediate-signed" certificate
    When the client calls the API
    Then the request is accepted

  @mandatory
  Scenario: A leaf under an intermediate CA is refused when the client leaves the chain out
    Given the client presents the "intermediate-signed" certificate without its intermediate
    When the client calls the API
    Then the request is refused

  @optional @headers
  Scenario: A certificate meant for servers only is never passed off as verified
    Given the client presents the "wrong-eku" certificate
    When the client calls the echo endpoint
    Then the request is not treated as verified

  @optional @headers
  Scenario: The backend is told a leaf under an intermediate CA was verified
    Given the client presents the "intermediate-signed" certificate
    When the client calls the echo endpoint
    Then the request is accepted
    And the backend is told the certificate was verified
    And the backend receives the certificate's subject, issuer and serial

  @optional @headers
  Scenario: A leaf without its intermediate is never passed off as verified
    Given the client presents the "intermediate-signed" certificate without its intermediate
    When the client calls the echo endpoint
    Then the request is not treated as verified
