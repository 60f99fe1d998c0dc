"""Apache Airflow provider for Weights & Biases Artifacts.

Importing this package is cheap on purpose: DAG files import it at parse time.
"""

__version__ = "0.1.0"
