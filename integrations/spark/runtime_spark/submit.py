"""The launcher as a spark-submit application:

    spark-submit --master URL [--files /path/to/runtime] \\
        "$(python3 -c 'import runtime_spark.submit as s; print(s.__file__)')" \\
        run pipeline.toml [--runtime PATH] [--resume] [--report run.json] ...

spark-submit starts the session (its --master, --conf, --files apply); the
launcher uses it."""


from runtime_spark.cli import main

if __name__ == "__main__":
    main()
