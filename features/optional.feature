@optional
Feature: Optional client certificate validation
  With Client Certificate Validation set to Optional, the load balancer lets every request
  through and tells the backend in X-SSL-Client-Verify whether a certificate was presented
  (NONE), verified (SUCCESS) or failed verification (FAILED:<reason>), so the API decides.

  @smoke
  Scenario: A request without a client certificate is accepted
    Given the client presents no certificate
    When the client calls the API
    Then the request is accepted

  @smoke @headers
  Scenario: The backend is told that no certificate was presented
    Given the client presents no certificate
    When the client calls the echo endpoint
    Then the request is accepted
    And the backend is told no certificate was presented

  @smoke @headers
  Scenario Outline: The backend is told a trusted certificate was verified: <role>
    Given the client presents the "<role>" certificate
    When the client calls the echo endpoint
    Then the request is accepted
    And the backend is told the certificate was verified
    And the backend receives the certificate's subject, issuer and serial

    Examples:
      | role                |
      | ca-signed           |
      | self-signed-trusted |

  @headers
  Scenario Outline: An invalid certificate is never passed off as verified: <role>
    Given the client presents the "<role>" certificate
    When the client calls the echo endpoint
    Then the request is not treated as verified

    Examples:
      | role                  |
      | expired               |
      | not-yet-valid         |
      | untrusted             |
      | self-signed-untrusted |

  @headers @crl
  Scenario: A revoked certificate is never passed off as verified when the CRL is loaded
    Given the client presents the "revoked" certificate
    When the client calls the echo endpoint
    Then the request is not treated as verified
