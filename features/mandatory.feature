@mandatory
Feature: Mandatory client certificate validation
  With Client Certificate Validation set to Mandatory, the load balancer lets a request reach
  the API only when the client presents a certificate that chains to the uploaded truststore.

  @smoke
  Scenario: A request without a client certificate is refused
    Given the client presents no certificate
    When the client calls the API
    Then the request is refused

  @smoke
  Scenario Outline: A trusted client certificate is accepted: <role>
    Given the client presents the "<role>" certificate
    When the client calls the API
    Then the request is accepted

    Examples:
      | role                |
      | ca-signed           |
      | self-signed-trusted |

  @headers
  Scenario Outline: The backend learns who the verified client is: <role>
    Given the client presents the "<role>" certificate
    When the client calls the echo endpoint
    Then the request is accepted
    And the backend is told the certificate was verified
    And the backend receives the certificate's subject, issuer and serial

    Examples:
      | role                |
      | ca-signed           |
      | self-signed-trusted |

  @smoke
  Scenario Outline: An invalid client certificate is refused: <role>
    Given the client presents the "<role>" certificate
    When the client calls the API
    Then the request is refused

    Examples:
      | role                  |
      | expired               |
      | untrusted             |

  Scenario Outline: Other invalid client certificates are refused: <role>
    Given the client presents the "<role>" certificate
    When the client calls the API
    Then the request is refused

    Examples:
      | role                  |
      | not-yet-valid         |
      | self-signed-untrusted |

  @crl
  Scenario: A revoked client certificate is refused when the CRL is loaded
    Given the client presents the "revoked" certificate
    When the client calls the API
    Then the request is refused
