"""The one exception an import raises for bad input: it names the file, the row and the column."""


class CostImportError(Exception):
    """Bad input. ``str()`` is the message a person reads: “file, row N, column C: what is wrong”.

    Rows are numbered as a spreadsheet shows them (the CSV header is row 1, the first data row
    is row 2); in Parquet files the first data row is row 1.
    """

    def __init__(self, message: str, *, file: str = "", row: int | str | None = None, column: str = ""):
        super().__init__(message)
        self.message = message
        self.file = file
        self.row = row
        self.column = column

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def located(self, *, file: str | None = None, row: int | str | None = None) -> "CostImportError":
        """The same error with the file (and row) filled in where the raiser did not know them."""
        return CostImportError(
            self.message,
            file=self.file or (file or ""),
            row=self.row if self.row is not None else row,
            column=self.column,
        )
