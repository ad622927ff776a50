@truststore
Feature: The uploaded truststore is the one in use
  The DLB's settings page shows only the first certificate of an uploaded truststore bundle.
  The CA names the load balancer advertises in its certificate request show what it really
  loaded: every certificate of truststore.pem must be among them.

  Scenario: Every certificate of the uploaded truststore is advertised to clients
    When the client reads the CA names the target advertises
    Then every certificate of the kit's truststore is among them
